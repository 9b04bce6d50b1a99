"""Hooks, optimisation wrappers and runner strategies of the project
(registered on import)."""
from .errors import CheckpointSaveError, NonFiniteError, TrainingStopped
from .hooks import *  # noqa: F401,F403
from .optim_wrappers import *  # noqa: F401,F403
from .strategies import *  # noqa: F401,F403
