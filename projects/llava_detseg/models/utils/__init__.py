from .build import build_in_scope
from .hf import load_hf_config, load_hf_model, load_hf_tokenizer

__all__ = ['build_in_scope', 'load_hf_config', 'load_hf_model',
           'load_hf_tokenizer']
