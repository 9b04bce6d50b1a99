from .checkpoint_io import (CheckpointLoadError, atomic_write,
                            load_checkpoint_file, save_checkpoint_file,
                            use_weights_only_loading)
from .compat import register_safe_globals
from .launch import setup_launcher
from .meta import is_meta_build, meta_build
from .setup_env import register_all_modules

__all__ = [
    'CheckpointLoadError', 'atomic_write', 'load_checkpoint_file',
    'save_checkpoint_file', 'use_weights_only_loading', 'is_meta_build', 'meta_build', 'register_safe_globals',
    'register_all_modules', 'setup_launcher'
]
