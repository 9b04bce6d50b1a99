from .build import build_in_scope
from .export import ExportError, export_model, load_exported
from .hf import load_hf_config, load_hf_model, load_hf_tokenizer

__all__ = ['build_in_scope', 'ExportError', 'export_model', 'load_exported',
           'load_hf_config', 'load_hf_model', 'load_hf_tokenizer']
