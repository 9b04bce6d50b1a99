"""Why a training run stopped on purpose (tools/train.py prints one line)."""


class TrainingStopped(RuntimeError):
    """A hook stopped the run; the message says why and what is left."""


class NonFiniteError(TrainingStopped):
    """A loss or the gradient norm was NaN or infinite."""


class CheckpointSaveError(TrainingStopped):
    """A checkpoint could not be written (full disk, quota, I/O error)."""
