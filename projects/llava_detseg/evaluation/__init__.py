"""Evaluation: answer normalisation helpers and registered metrics."""
from .functional import *  # noqa: F401,F403
from .metrics import *  # noqa: F401,F403
from .summary import summary_lines  # noqa: F401
