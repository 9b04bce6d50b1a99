"""Stop training at the first NaN / infinite loss or gradient norm."""
import math
import os.path as osp
from typing import Dict, List, Optional

import torch
from mmengine.dist import all_reduce, get_world_size
from mmengine.hooks import Hook

from llava_detseg.engine.errors import NonFiniteError
from llava_detseg.registry import HOOKS


def _torch_optimizers(optim_wrapper) -> List[torch.optim.Optimizer]:
    """The torch optimizers behind an ``OptimWrapper`` or a dict of them."""
    wrappers = getattr(optim_wrapper, 'optim_wrappers', None)
    wrappers = list(wrappers.values()) if wrappers else [optim_wrapper]
    found = []
    for wrapper in wrappers:
        optimizer = getattr(wrapper, 'optimizer', None)
        # DeepSpeed / ColossalAI optimizers have no step pre-hooks
        if hasattr(optimizer, 'register_step_pre_hook'):
            found.append(optimizer)
    return found


def _grad_norm(optimizer: torch.optim.Optimizer) -> Optional[float]:
    grads = [
        p.grad for group in optimizer.param_groups for p in group['params']
        if p.grad is not None
    ]
    if not grads:
        return None
    # one fused pass, as clip_grad does; float32 so that large finite fp16
    # gradients do not overflow into a false alarm
    norms = torch._foreach_norm(grads, 2, dtype=torch.float32)
    return float(torch.linalg.vector_norm(torch.stack(
        [n.to(norms[0].device) for n in norms])))


def _as_float(value) -> Optional[float]:
    if torch.is_tensor(value):
        return float(value.detach().float().mean()) if value.numel() else None
    if isinstance(value, (int, float)):
        return float(value)
    return None


@HOOKS.register_module()
class NonFiniteGuardHook(Hook):
    """Stop the run when a loss or the gradient norm is NaN or infinite.

    mmdet's ``CheckInvalidLossHook`` asserts on the loss after the step: the
    weights already took the NaN step, and the user gets a traceback. This
    hook instead

    * checks the gradient norm before every optimizer step (a step pre-hook
      on the torch optimizer) and, when it is not finite, drops the
      gradients so the step leaves the weights as they were;
    * checks every logged loss term after the iteration;
    * agrees across ranks, so every process stops at the same iteration;
    * raises :class:`NonFiniteError` naming the epoch, the iteration, the
      terms and the last checkpoint (``tools/train.py`` prints it as one
      line and exits non-zero). It runs before the checkpoint hook, so no
      checkpoint of a non-finite iteration is written.

    Mixed precision is unaffected: ``GradScaler`` skips overflowing steps
    without calling ``optimizer.step``, so the pre-hook never sees them.

    Args:
        interval (int): Check every ``interval`` iterations. Defaults to 1.
        check_grad_norm (bool): Also check the gradient norm (one extra
            pass over the gradients per step). Defaults to True.
    """

    priority = 'ABOVE_NORMAL'

    def __init__(self, interval: int = 1, check_grad_norm: bool = True):
        if interval < 1:
            raise ValueError(f'NonFiniteGuardHook: interval must be >= 1, '
                             f'got {interval}')
        self.interval = interval
        self.check_grad_norm = check_grad_norm
        self._handles: list = []
        self._checking = True
        self._bad_grad_norm: Optional[float] = None

    # ------------------------------------------------------------------
    def before_train(self, runner) -> None:
        self._remove_handles()
        if self.check_grad_norm:
            for optimizer in _torch_optimizers(runner.optim_wrapper):
                self._handles.append(
                    optimizer.register_step_pre_hook(self._before_step))

    def after_train(self, runner) -> None:
        self._remove_handles()

    def before_train_iter(self, runner, batch_idx: int,
                          data_batch=None) -> None:
        self._checking = self.every_n_train_iters(runner, self.interval)
        self._bad_grad_norm = None

    def _before_step(self, optimizer, args, kwargs) -> None:
        if not self._checking:
            return
        norm = _grad_norm(optimizer)
        if norm is not None and not math.isfinite(norm):
            self._bad_grad_norm = norm
            # optimizers skip parameters without gradients: no NaN step
            for group in optimizer.param_groups:
                for p in group['params']:
                    p.grad = None

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs: Optional[Dict] = None) -> None:
        if not self._checking:
            return
        bad = self._bad_terms(outputs)
        mine = bool(bad) or self._bad_grad_norm is not None
        flag = torch.tensor([float(mine)])
        if get_world_size() > 1:
            all_reduce(flag)  # all ranks stop together, or none does
        if float(flag) == 0:
            return
        message = self._message(runner, bad)
        runner.logger.error(message)
        raise NonFiniteError(message)

    # ------------------------------------------------------------------
    @staticmethod
    def _bad_terms(outputs: Optional[Dict]) -> Dict[str, float]:
        bad = {}
        for name, value in (outputs or {}).items():
            if 'loss' not in name:
                continue
            number = _as_float(value)
            if number is not None and not math.isfinite(number):
                bad[name] = number
        return bad

    def _message(self, runner, bad: Dict[str, float]) -> str:
        from mmengine.runner import EpochBasedTrainLoop
        where = f'iter {runner.iter + 1}'
        if isinstance(runner.train_loop, EpochBasedTrainLoop):
            where = f'epoch {runner.epoch + 1}, {where}'
        if bad:
            terms = ', '.join(f'{k}={v}' for k, v in sorted(bad.items()))
            what = f'non-finite loss at {where} ({terms})'
        elif self._bad_grad_norm is not None:
            what = (f'non-finite gradient norm ({self._bad_grad_norm}) at '
                    f'{where} with a finite loss')
        else:
            what = f'non-finite loss or gradient norm on another rank at ' \
                   f'{where}'
        hub = runner.message_hub  # SafeCheckpointHook's, or mmengine's
        last = hub.get_info('last_finite_ckpt') or hub.get_info('last_ckpt')
        if last and osp.isfile(last):
            left = (f'the last checkpoint {last} holds the weights before it '
                    '(tools/train.py --resume continues from it)')
        else:
            left = 'no checkpoint was saved before it'
        return (f'{what}: training stopped, no checkpoint of it written; '
                f'{left}; lower the learning rate, clip gradients '
                '(optim_wrapper.clip_grad) or check the data of this '
                'iteration')

    def _remove_handles(self) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles = []
