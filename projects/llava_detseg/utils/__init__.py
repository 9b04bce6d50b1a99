from .compat import register_safe_globals
from .launch import setup_launcher
from .setup_env import register_all_modules

__all__ = ['register_safe_globals', 'register_all_modules', 'setup_launcher']
