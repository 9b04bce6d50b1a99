"""LLaVA-DetSeg: one LLaVA-style model that answers, detects and segments."""
from .utils.checkpoint_io import use_weights_only_loading
from .utils.compat import register_safe_globals

__version__ = '0.1.0'

# mmengine 0.10.7 checkpoints pickle a few of its own classes and numpy
# objects; torch >= 2.6 refuses them under ``weights_only=True``. Allow-list
# exactly those on import so ``--resume`` works without turning safety off.
register_safe_globals()
# ... and make every MMEngine load of a local checkpoint ask for
# ``weights_only=True`` itself rather than follow the torch default.
use_weights_only_loading()

__all__ = ['__version__']
