"""Hooks and optimisation wrappers of the project (registered on import)."""
from .hooks import *  # noqa: F401,F403
from .optim_wrappers import *  # noqa: F401,F403
