"""Evaluation: answer normalisation helpers and registered metrics."""
from .functional import *  # noqa: F401,F403
from .metrics import *  # noqa: F401,F403
