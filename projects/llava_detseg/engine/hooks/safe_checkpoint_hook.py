"""Checkpoints that survive kills, full disks and NaN weights."""
import errno
import os
import os.path as osp
from collections import deque
from typing import List, Optional

import torch
from mmengine.dist import (broadcast_object_list, get_world_size,
                           is_main_process)
from mmengine.fileio import LocalBackend, register_backend
from mmengine.hooks import CheckpointHook

from llava_detseg.engine.errors import CheckpointSaveError
from llava_detseg.registry import HOOKS
from llava_detseg.utils.checkpoint_io import (remove_stale_temps,
                                              write_bytes_atomically)

#: The file backend :class:`SafeCheckpointHook` saves local checkpoints with.
ATOMIC_BACKEND = 'llava_detseg_atomic_local'


class AtomicLocalBackend(LocalBackend):
    """MMEngine's ``LocalBackend`` whose ``put`` writes a temporary file,
    flushes it and renames it over the target (atomic on POSIX), so a
    checkpoint file is either the old one or the complete new one."""

    def put(self, obj: bytes, filepath) -> None:
        filepath = str(filepath)
        folder = osp.dirname(filepath)
        if folder:
            os.makedirs(folder, exist_ok=True)
        write_bytes_atomically(obj, filepath)


register_backend(ATOMIC_BACKEND, AtomicLocalBackend, force=True)


def _weights_finite(model: torch.nn.Module) -> bool:
    """Whether every floating parameter and buffer is finite.

    One fused pass of float32 L2 norms (NaN and inf propagate; float32
    keeps a large finite fp16 tensor from overflowing) and one sync: about
    1 ms for the 2 M parameters of the tiny model, where a per-tensor
    ``isfinite`` loop or the inf-norm take ~100 ms on a CPU.
    DDP replicas are equal, so each rank decides alone: no collective here,
    the save path has exactly one (``_raise_on_any_rank``).
    """
    tensors = [
        t.detach() for t in (*model.parameters(), *model.buffers())
        if t.is_floating_point() and t.numel()
    ]
    if not tensors:
        return True
    norms = torch._foreach_norm(tensors, 2, dtype=torch.float32)
    return bool(torch.isfinite(torch.stack(
        [n.to(norms[0].device) for n in norms])).all())


@HOOKS.register_module()
class SafeCheckpointHook(CheckpointHook):
    """MMEngine's ``CheckpointHook`` made safe against kills, full disks and
    non-finite weights; the arguments are those of ``CheckpointHook``.

    MMEngine writes a checkpoint in place, removes the oldest kept one
    *before* writing the new one, and points ``last_checkpoint`` at every new
    file. A process killed mid-write, or a full disk, can therefore leave no
    readable checkpoint (``max_keep_ckpts=1``), and with a loss turned NaN
    the kept checkpoints fill with NaN weights. This hook

    * writes each local checkpoint (and ``last_checkpoint``) to a hidden
      temporary file, flushes it and renames it (:class:`AtomicLocalBackend`);
      stale temporary files of a killed run are removed when training starts;
    * removes old checkpoints only after the new one is on disk;
    * checks the weights before saving: a checkpoint with NaN / inf weights
      is still written, for inspection, but ``last_checkpoint`` keeps naming
      the last finite one (so ``--resume`` picks it) and ``max_keep_ckpts``
      never removes that one;
    * turns a failed write (``OSError``: full disk, quota, I/O error) into
      :class:`CheckpointSaveError`, one line naming the file and the last
      checkpoint left intact, on every rank.

    Args:
        check_finite (bool): Check the weights before each save (one pass
            over parameters and buffers). Defaults to True.
        **kwargs: The arguments of ``mmengine.hooks.CheckpointHook``.
    """

    def __init__(self, *args, check_finite: bool = True, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.check_finite = check_finite
        self.last_finite_ckpt: Optional[str] = None
        self._in_best = False

    # ------------------------------------------------------------------
    def before_train(self, runner) -> None:
        out_dir = self.out_dir or runner.work_dir
        if self.backend_args is None and self.file_client_args is None \
                and '://' not in str(out_dir):
            self.backend_args = dict(backend=ATOMIC_BACKEND)
        # MMEngine's rotation of resumed ids would remove the protected one
        max_keep, self.max_keep_ckpts = self.max_keep_ckpts, -1
        try:
            super().before_train(runner)
        finally:
            self.max_keep_ckpts = max_keep
        hub = runner.message_hub
        self.last_finite_ckpt = hub.get_info('last_finite_ckpt',
                                             hub.get_info('last_ckpt'))
        if is_main_process() and self.backend_args and \
                self.backend_args.get('backend') == ATOMIC_BACKEND:
            for path in remove_stale_temps(self.out_dir):
                runner.logger.warning(
                    f'removed {path}, a checkpoint a killed run did not '
                    'finish writing')
        if self.max_keep_ckpts > 0:
            keep = list(hub.get_info('keep_ckpt_ids', []))
            self.keep_ckpt_ids = deque(keep)  # no maxlen: protected extras
            self._remove(runner, self._rotate(keep, None))
            hub.update_info('keep_ckpt_ids', list(self.keep_ckpt_ids))

    def _path(self, step: int) -> str:
        return self.file_backend.join_path(self.out_dir,
                                           self.filename_tmpl.format(step))

    def _rotate(self, keep: List[int], current: Optional[int]) -> List[int]:
        """Drop the oldest ids beyond ``max_keep_ckpts`` from ``keep``, never
        ``current`` nor the last finite one; returns the dropped ids."""
        protected = {current}
        protected.update(i for i in keep
                         if self._path(i) == self.last_finite_ckpt)
        removed = []
        while len(keep) > self.max_keep_ckpts:
            candidates = [i for i in keep if i not in protected]
            if not candidates:
                break
            keep.remove(candidates[0])
            removed.append(candidates[0])
        self.keep_ckpt_ids = deque(keep)
        return removed

    def _remove(self, runner, steps: List[int]) -> None:
        if not is_main_process():
            return
        for step in steps:
            path = self._path(step)
            if self.file_backend.isfile(path):
                self.file_backend.remove(path)
            elif self.file_backend.isdir(path):  # DeepSpeed saves folders
                self.file_backend.rmtree(path)

    # ------------------------------------------------------------------
    def _save_checkpoint_with_step(self, runner, step, meta) -> None:
        path = self._path(step)
        finite = _weights_finite(runner.model) if self.check_finite else True
        previous = self.last_finite_ckpt
        hub = runner.message_hub
        removed: List[int] = []
        if self.max_keep_ckpts > 0 and not (
                self.keep_ckpt_ids and self.keep_ckpt_ids[-1] == step):
            keep = list(self.keep_ckpt_ids) + [step]
            if finite:
                self.last_finite_ckpt = path
            removed = self._rotate(keep, step)
            hub.update_info('keep_ckpt_ids', list(self.keep_ckpt_ids))
        elif finite:
            self.last_finite_ckpt = path
        self.last_ckpt = path
        hub.update_info('last_ckpt', path)
        hub.update_info('last_finite_ckpt', self.last_finite_ckpt)

        error = None
        try:
            runner.save_checkpoint(
                self.out_dir, self.filename_tmpl.format(step),
                self.file_client_args,
                save_optimizer=self.save_optimizer,
                save_param_scheduler=self.save_param_scheduler,
                meta=meta, by_epoch=self.by_epoch,
                backend_args=self.backend_args, **self.args)
            if finite and is_main_process():
                write_bytes_atomically(
                    path.encode(), osp.join(runner.work_dir,
                                            'last_checkpoint'))
        except OSError as e:
            if self._in_best:  # _save_best_checkpoint reports it
                raise
            error = self._save_error(path, previous, e)
        if not self._in_best:
            self._raise_on_any_rank(runner, error)

        self._remove(runner, removed)
        if not finite:
            runner.logger.warning(
                f'{path} holds NaN or infinite weights: saved for '
                'inspection, but last_checkpoint still names '
                f'{previous or "no checkpoint (none was finite)"} and '
                'max_keep_ckpts does not remove it')

    def _save_best_checkpoint(self, runner, metrics) -> None:
        # mmengine's, written atomically; its re-save of the latest
        # checkpoint reports a failure here, so every rank meets exactly
        # one collective whichever file failed
        if not self.save_best:
            return
        error, previous = None, self.last_finite_ckpt
        self._in_best = True
        try:
            super()._save_best_checkpoint(runner, metrics)
        except OSError as e:
            path = getattr(self, 'best_ckpt_path', None) or self.out_dir
            error = self._save_error(str(path), previous, e)
        finally:
            self._in_best = False
        self._raise_on_any_rank(runner, error)

    # ------------------------------------------------------------------
    @staticmethod
    def _save_error(path: str, previous: Optional[str], e: OSError) -> str:
        why = e.strerror or str(e)
        if e.errno in (errno.ENOSPC, errno.EDQUOT):
            why += ' (free space on that disk, then train with --resume)'
        if previous and osp.isfile(previous):
            left = (f'the last checkpoint {previous} is intact and '
                    'last_checkpoint names it')
        else:
            left = 'no earlier checkpoint was saved'
        return (f'cannot write checkpoint {path}: {why}; training stopped; '
                f'{left}')

    @staticmethod
    def _raise_on_any_rank(runner, error: Optional[str]) -> None:
        # only rank 0 writes: the other ranks must stop too, not hang
        if get_world_size() > 1:
            box = [error]
            broadcast_object_list(box, src=0)
            error = box[0]
        if error is not None:
            runner.logger.error(error)
            raise CheckpointSaveError(error)
