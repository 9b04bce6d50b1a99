from .hf import load_hf_model

__all__ = ['load_hf_model']
