"""Faults that tests inject into ``tools/train.py`` runs.

A config imports this module (``custom_imports``) and adds
``dict(type='TrainFaultHook')`` to its hooks; the environment variable
``LLAVA_DETSEG_TEST_FAULT`` says which fault, so a ``--resume`` of the same
config without the variable trains cleanly:

* ``nan_loss@K``: the model's loss turns NaN at (1-based, global) iteration K
  (``nan_loss@K:R``: on rank R only);
* ``kill_in_save@N``: the N-th checkpoint write stops half way, writes
  ``<work_dir>/writing`` and sleeps until the test kills the process;
* ``enospc_in_save@N``: the N-th checkpoint write stops half way with
  ``OSError(ENOSPC)``, as on a full disk.

The writes are caught at ``open()``: whatever writes a ``*.pth*`` file in the
work dir (mmengine's ``LocalBackend`` or the atomic one) meets the fault.
"""
import builtins
import errno
import os
import os.path as osp
import time

from mmengine.hooks import Hook

from llava_detseg.registry import HOOKS

ENV = 'LLAVA_DETSEG_TEST_FAULT'


class _FaultyFile:
    """A binary file whose writes stop half way through the data."""

    def __init__(self, f, on_half):
        self._f, self._on_half = f, on_half

    def write(self, data) -> int:
        half = len(data) // 2
        self._f.write(data[:half])
        self._f.flush()
        os.fsync(self._f.fileno())
        self._on_half()
        return half

    def __getattr__(self, name):
        return getattr(self._f, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._f.close()
        return False


@HOOKS.register_module()
class TrainFaultHook(Hook):
    """Inject the fault ``LLAVA_DETSEG_TEST_FAULT`` names (tests only)."""

    priority = 'VERY_HIGH'

    def __init__(self) -> None:
        kind, _, at = os.environ.get(ENV, '').partition('@')
        at, _, rank = at.partition(':')
        if rank and rank != os.environ.get('RANK', '0'):
            kind = ''
        self.kind, self.at = kind, int(at or 0)
        self._saves = 0

    def before_train(self, runner) -> None:
        if self.kind in ('kill_in_save', 'enospc_in_save'):
            self._patch_open(runner.work_dir)

    def _patch_open(self, work_dir: str) -> None:
        real_open, hook = builtins.open, self
        work_dir = osp.abspath(work_dir)

        def faulty_open(file, mode='r', *args, **kwargs):
            f = real_open(file, mode, *args, **kwargs)
            path = osp.abspath(str(file)) if isinstance(
                file, (str, os.PathLike)) else ''
            if 'w' in mode and 'b' in mode and path.startswith(work_dir) \
                    and '.pth' in osp.basename(path):
                hook._saves += 1
                if hook._saves == hook.at:
                    return _FaultyFile(f, lambda: hook._fail(work_dir))
            return f

        builtins.open = faulty_open

    def _fail(self, work_dir: str) -> None:
        if self.kind == 'enospc_in_save':
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        with open(osp.join(work_dir, 'writing'), 'w') as f:
            f.write('half written\n')
        while True:  # until SIGKILL
            time.sleep(1)

    def before_train_iter(self, runner, batch_idx, data_batch=None) -> None:
        if self.kind != 'nan_loss' or runner.iter + 1 != self.at:
            return
        model = getattr(runner.model, 'module', runner.model)
        loss = model.loss

        def nan_loss(*args, **kwargs):
            losses = loss(*args, **kwargs)
            name = sorted(k for k in losses if 'loss' in k)[0]
            losses[name] = losses[name] * float('nan')
            return losses

        model.loss = nan_loss

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None) -> None:
        model = getattr(runner.model, 'module', runner.model)
        model.__dict__.pop('loss', None)
