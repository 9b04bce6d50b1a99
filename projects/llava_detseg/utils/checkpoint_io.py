"""Reading and writing checkpoint files safely.

* Reading: every checkpoint goes through ``torch.load(weights_only=True)``
  (tensors, containers and the classes :func:`register_safe_globals`
  allow-lists), also where MMEngine loads one (``load_checkpoint``,
  ``--resume``): :func:`use_weights_only_loading` replaces MMEngine's loader
  of local files, whose bare ``torch.load`` follows the torch default and
  ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD``.
* Writing: :func:`atomic_write` writes a hidden temporary file beside the
  target, flushes it to disk and renames it over the target, so a process
  killed mid-write, or a full disk, leaves the previous file whole.
"""
import contextlib
import os
import os.path as osp
import pickle
import re
from typing import Any, Iterator

import torch

#: Suffix of the temporary files :func:`atomic_write` leaves behind when a
#: process is killed while writing (removed by the next run).
TMP_SUFFIX = '.tmp'


class CheckpointLoadError(RuntimeError):
    """A checkpoint file cannot be loaded safely (one line, names the file)."""


def _refused_global(message: str) -> str:
    found = re.search(r'GLOBAL ([\w.]+)', message)
    return found.group(1) if found else 'an object'


def load_checkpoint_file(filename: str,
                         map_location: Any = None) -> Any:
    """``torch.load(filename, weights_only=True)`` with one-line errors.

    Args:
        filename (str): A local checkpoint file.
        map_location: As for ``torch.load``.

    Raises:
        CheckpointLoadError: the file is missing, not a complete torch file,
            or holds a pickled object that weights-only loading refuses.
    """
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise CheckpointLoadError(f'checkpoint {filename} does not exist')
    try:
        return torch.load(filename, map_location=map_location,
                          weights_only=True)
    except pickle.UnpicklingError as e:
        raise CheckpointLoadError(
            f'{filename}: refused to load: it holds '
            f'{_refused_global(str(e))}, which weights-only loading does not '
            'allow (only tensors, containers and the allow-listed mmengine / '
            'numpy classes load; a pickled object could run code)') from None
    except (RuntimeError, EOFError) as e:
        why = ' '.join(str(e).split())[:200]
        raise CheckpointLoadError(
            f'{filename}: not a complete torch checkpoint (truncated or '
            f'another format): {why}') from None


def _load_from_local(filename: str, map_location: Any = None) -> Any:
    # MMEngine's ``load_from_local`` without its implicit torch.load default
    return load_checkpoint_file(filename, map_location)


def use_weights_only_loading() -> None:
    """Make MMEngine load local checkpoints with :func:`load_checkpoint_file`.

    Covers ``mmengine.runner.load_checkpoint`` / ``_load_checkpoint``,
    ``Runner.load_checkpoint`` and ``Runner.resume`` (tools, inferencer,
    distillation teacher, converters); remote schemes keep their loaders.
    """
    from mmengine.runner.checkpoint import CheckpointLoader
    CheckpointLoader.register_scheme(
        prefixes='', loader=_load_from_local, force=True)


def _fsync_dir(folder: str) -> None:
    # the rename itself must reach the disk, or a power cut can undo it
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def temp_path(path: str) -> str:
    """The hidden temporary file :func:`atomic_write` writes for ``path``."""
    folder, name = osp.split(path)
    return osp.join(folder, f'.{name}{TMP_SUFFIX}')


@contextlib.contextmanager
def atomic_write(path: str) -> Iterator[str]:
    """Yield a temporary path to write; rename it to ``path`` on success.

    The temporary file is flushed (``fsync``) before ``os.replace``, which
    POSIX makes atomic: readers see the old file or the new one, never a
    part. On any error the temporary file is removed and the error raised.

    Example:
        >>> with atomic_write('epoch_1.pth') as tmp:
        ...     torch.save(state, tmp)
    """
    tmp = temp_path(path)
    try:
        yield tmp
        with open(tmp, 'rb+') as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise
    _fsync_dir(osp.dirname(osp.abspath(path)))


def write_bytes_atomically(data: bytes, path: str) -> None:
    """Write ``data`` to ``path`` through :func:`atomic_write`."""
    with atomic_write(path) as tmp:
        with open(tmp, 'wb') as f:
            f.write(data)


def save_checkpoint_file(obj: Any, path: str) -> None:
    """``torch.save(obj, path)`` through :func:`atomic_write`."""
    with atomic_write(path) as tmp:
        torch.save(obj, tmp)


def remove_stale_temps(folder: str) -> list:
    """Remove what :func:`atomic_write` left in ``folder`` when killed.

    Returns:
        list: The removed paths.
    """
    removed = []
    if not osp.isdir(folder):
        return removed
    for name in os.listdir(folder):
        if name.startswith('.') and name.endswith(TMP_SUFFIX):
            path = osp.join(folder, name)
            with contextlib.suppress(OSError):
                os.remove(path)
                removed.append(path)
    return removed

