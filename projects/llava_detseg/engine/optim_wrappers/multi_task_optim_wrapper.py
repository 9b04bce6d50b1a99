"""Optimiser wrappers that combine per-task gradients: PCGrad and GradNorm.

Both need each task's gradient separately, which MMEngine's ``OptimWrapper``
never sees (``update_params`` back-propagates one summed loss). They
subclass it, so gradient accumulation, clipping, ``optim_context``, the
parameter schedulers and checkpointing stay MMEngine's, and replace only
``update_params``: one ``autograd.grad`` per task, a combination rule, the
sum written to ``.grad``. The per-task losses come attached to the summed
loss as ``loss.task_losses`` (``LlavaDetSeg.parse_losses``); terms of no task
(``''``: the adapter L2 penalty) are added unchanged.

Each task's backward repeats the shared trunk's backward, so a step costs up
to (tasks) backward passes of the trunk. Under DDP every ``autograd.grad``
would also trigger a gradient all-reduce: use them on one process (or add
``no_sync``), as the config notes say.
"""
import random
from typing import Dict, List, Optional, Sequence

import torch
from mmengine.logging import MessageHub
from mmengine.optim import OptimWrapper
from torch import Tensor

from llava_detseg.registry import OPTIM_WRAPPERS


class MultiTaskOptimWrapper(OptimWrapper):
    """Base class: per-task gradients in, one combined gradient out.

    Subclasses implement ``combine``. Args as ``OptimWrapper``.
    """

    def _params(self) -> List[torch.nn.Parameter]:
        return [
            p for group in self.optimizer.param_groups
            for p in group['params'] if p.requires_grad
        ]

    def update_params(self,
                      loss: Tensor,
                      step_kwargs: Optional[Dict] = None,
                      zero_kwargs: Optional[Dict] = None) -> None:
        """Per-task gradients, ``combine``, accumulate, maybe step."""
        task_losses = getattr(loss, 'task_losses', None)
        if task_losses is None:
            raise RuntimeError(
                f'{type(self).__name__}: the loss carries no "task_losses"; '
                'the model\'s parse_losses must attach them (LlavaDetSeg '
                'does)')
        params = self._params()
        tasks = sorted(t for t in task_losses if t)
        grads = {}
        for task in tasks:
            g = torch.autograd.grad(
                self.scale_loss(task_losses[task]), params,
                retain_graph=True, allow_unused=True)
            grads[task] = [
                torch.zeros_like(p) if x is None else x
                for p, x in zip(params, g)
            ]
        combined = self.combine(grads, task_losses) if tasks else None
        if '' in task_losses:
            rest = torch.autograd.grad(
                self.scale_loss(task_losses['']), params, allow_unused=True)
            if combined is None:
                combined = [torch.zeros_like(p) for p in params]
            combined = [
                c if r is None else c + r for c, r in zip(combined, rest)
            ]
        for p, g in zip(params, combined or []):
            p.grad = g.detach() if p.grad is None else p.grad + g.detach()
        # what OptimWrapper.backward counts for gradient accumulation
        self._inner_count += 1
        if self.should_update():
            self.step(**(step_kwargs or {}))
            self.zero_grad(**(zero_kwargs or {}))

    def combine(self, grads: Dict[str, List[Tensor]],
                task_losses: Dict[str, Tensor]) -> List[Tensor]:
        """The combined gradient, one tensor per parameter."""
        raise NotImplementedError


@OPTIM_WRAPPERS.register_module()
class PCGradOptimWrapper(MultiTaskOptimWrapper):
    """Gradient surgery (PCGrad, Yu et al., 2020).

    Each task's gradient is projected onto the normal plane of every other
    task's gradient it conflicts with (negative dot product), in a random
    order, and the projections are summed. Without conflicts that is the
    plain sum of the (already weighted) task losses' gradients.
    """

    def combine(self, grads: Dict[str, List[Tensor]],
                task_losses: Dict[str, Tensor]) -> List[Tensor]:
        tasks = list(grads)
        flat = {t: torch.cat([g.flatten() for g in grads[t]]) for t in tasks}
        out = torch.zeros_like(flat[tasks[0]])
        conflicts = 0
        for t in tasks:
            g = flat[t].clone()
            others = [o for o in tasks if o != t]
            random.shuffle(others)
            for o in others:
                dot = torch.dot(g, flat[o])
                if dot < 0:
                    g -= dot / flat[o].pow(2).sum().clamp(min=1e-20) * flat[o]
                    conflicts += 1
            out += g
        _log('pcgrad_conflicts', float(conflicts))
        return _unflatten(out, grads[tasks[0]])


@OPTIM_WRAPPERS.register_module()
class GradNormOptimWrapper(MultiTaskOptimWrapper):
    """GradNorm (Chen et al., 2018): learnt task weights that equalise the
    tasks' gradient norms on the shared weights.

    The combined gradient is ``sum_t w_t g_t``. The weights start at 1 (so
    the first step is the plain weighted sum) and follow
    ``|G_t - mean(G) r_t^alpha|`` where ``G_t = ||w_t g_t||`` on the shared
    parameters (those that more than one task's gradient reaches) and
    ``r_t`` is the task's loss ratio ``L_t / L_t(0)`` relative to the mean;
    the weights are renormalised to sum to the number of tasks.

    Args:
        alpha (float): Restoring-force strength.
        weight_lr (float): Learning rate of the task weights.
        **kwargs: ``OptimWrapper`` arguments.
    """

    def __init__(self, *args, alpha: float = 1.5, weight_lr: float = 0.025,
                 **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.alpha = float(alpha)
        self.weight_lr = float(weight_lr)
        self.task_weights: Dict[str, float] = {}
        self.initial_losses: Dict[str, float] = {}

    def combine(self, grads: Dict[str, List[Tensor]],
                task_losses: Dict[str, Tensor]) -> List[Tensor]:
        tasks = list(grads)
        for t in tasks:
            self.task_weights.setdefault(t, 1.0)
            self.initial_losses.setdefault(
                t, max(float(task_losses[t].detach()), 1e-12))
        w = [self.task_weights[t] for t in tasks]
        out = [sum(wi * grads[t][k] for wi, t in zip(w, tasks))
               for k in range(len(grads[tasks[0]]))]
        if len(tasks) > 1:
            self._update_weights(grads, task_losses, tasks)
        return out

    def _update_weights(self, grads, task_losses, tasks: Sequence[str]):
        reached = [sum(bool(grads[t][k].any()) for t in tasks) > 1
                   for k in range(len(grads[tasks[0]]))]
        if not any(reached):
            return  # no shared parameter trains: nothing to balance
        norms = torch.stack([
            torch.sqrt(sum(grads[t][k].float().pow(2).sum()
                           for k, r in enumerate(reached) if r))
            for t in tasks
        ])
        w = torch.tensor([self.task_weights[t] for t in tasks])
        g_w = w * norms.cpu()
        ratio = torch.tensor([
            float(task_losses[t].detach()) / self.initial_losses[t]
            for t in tasks
        ])
        target = g_w.mean() * (ratio / ratio.mean())**self.alpha
        # d|w_t n_t - target_t| / dw_t, the target held constant
        w = w - self.weight_lr * torch.sign(g_w - target) * norms.cpu()
        w = w.clamp(min=1e-3)
        w = w * len(tasks) / w.sum()
        for t, wi in zip(tasks, w.tolist()):
            self.task_weights[t] = wi
            _log(f'gradnorm_w_{t}', wi)

    def state_dict(self) -> dict:
        state = super().state_dict()
        state['gradnorm'] = dict(
            task_weights=dict(self.task_weights),
            initial_losses=dict(self.initial_losses))
        return state

    def load_state_dict(self, state_dict: dict) -> None:
        state_dict = dict(state_dict)
        extra = state_dict.pop('gradnorm', None)
        if extra is not None:
            self.task_weights = dict(extra['task_weights'])
            self.initial_losses = dict(extra['initial_losses'])
        super().load_state_dict(state_dict)


def _unflatten(flat: Tensor, like: List[Tensor]) -> List[Tensor]:
    out, start = [], 0
    for t in like:
        out.append(flat[start:start + t.numel()].view_as(t))
        start += t.numel()
    return out


def _log(name: str, value: float) -> None:
    hub = MessageHub.get_current_instance()
    hub.update_scalar(f'train/{name}', value)
