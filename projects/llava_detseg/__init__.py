"""LLaVA-DetSeg: one LLaVA-style model that answers, detects and segments."""
from .utils.compat import register_safe_globals

__version__ = '0.1.0'

# mmengine 0.10.7 checkpoints pickle a few of its own classes and numpy
# objects; torch >= 2.6 refuses them under ``weights_only=True``. Allow-list
# exactly those on import so ``--resume`` works without turning safety off.
register_safe_globals()

__all__ = ['__version__']
