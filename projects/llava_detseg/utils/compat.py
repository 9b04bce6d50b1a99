"""Compatibility shims between the pinned libraries."""
import numpy as np
import torch


def _numpy_globals() -> list:
    """The numpy objects that mmengine's message hub pickles."""
    from numpy.core import multiarray  # numpy._core under numpy 2
    found = [np.ndarray, np.dtype, multiarray._reconstruct, multiarray.scalar]
    # numpy >= 1.25 pickles each dtype as its own class (``Float64DType``).
    dtypes = getattr(np, 'dtypes', None)
    if dtypes is not None:
        found += [
            getattr(dtypes, name) for name in dir(dtypes)
            if name.endswith('DType')
        ]
    return found


def register_safe_globals() -> None:
    """Allow-list the classes an mmengine 0.10.7 checkpoint holds.

    torch >= 2.6 loads checkpoints with ``weights_only=True``; mmengine's
    ``CheckpointHook`` stores the message hub (``HistoryBuffer`` plus numpy
    arrays and scalars) in them, so ``--resume`` would fail with
    ``UnpicklingError``. Only these known classes are allowed; safety stays on
    for everything else. ``getattr`` is among them because pickle stores the
    buffer's statistics functions (``HistoryBuffer.min``) as
    ``getattr(HistoryBuffer, 'min')``; the weights-only unpickler still
    refuses to call anything that is not allow-listed.
    """
    add = getattr(torch.serialization, 'add_safe_globals', None)
    if add is None:  # torch < 2.4 loads everything anyway
        return
    from mmengine.logging.history_buffer import HistoryBuffer
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')  # numpy.core is deprecated in numpy 2
        add([HistoryBuffer, getattr, *_numpy_globals()])
