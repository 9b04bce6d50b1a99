from .build import build_in_scope
from .hf import load_hf_model

__all__ = ['build_in_scope', 'load_hf_model']
