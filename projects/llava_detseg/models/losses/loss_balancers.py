"""Task-loss balancing that lives in the model (learnable weights)."""
from typing import Dict, Optional, Sequence

import torch
from mmengine.model import BaseModule
from torch import Tensor, nn

from llava_detseg.registry import MODELS
from llava_detseg.tasks import TASKS, check_tasks, known_tasks


def task_of(loss_name: str) -> Optional[str]:
    """``det`` of ``det.loss_cls``; None for a term of no task."""
    task = loss_name.split('.', 1)[0]
    return task if '.' in loss_name and task in known_tasks() else None


def group_task_losses(losses: Dict[str, Tensor]) -> Dict[str, Tensor]:
    """Sum the loss terms of each task; terms of no task go to ``''``.

    The per-task totals are what GradNorm / PCGrad need (see
    ``engine/optim_wrappers``); ``''`` (e.g. the adapter L2 penalty, an
    uncertainty regulariser) is added to the combined gradient as is.
    """
    out: Dict[str, Tensor] = {}
    for name, value in losses.items():
        if 'loss' not in name:
            continue
        if isinstance(value, (list, tuple)):
            value = sum(v.mean() for v in value)
        else:
            value = value.mean()
        key = task_of(name) or ''
        out[key] = out[key] + value if key in out else value
    return out


@MODELS.register_module()
class UncertaintyWeighting(BaseModule):
    """Homoscedastic uncertainty weighting (Kendall, Gal and Cipolla, 2018).

    Each task's losses are scaled by ``exp(-s_t)`` and ``s_t`` is added as a
    regulariser (``s_t = log sigma_t^2``, learnt with the model). At
    ``s_t = 0`` (the initial value) the total is the plain sum.

    Args:
        tasks (Sequence[str]): Tasks with a learnt weight.
        init_log_var (float): Initial ``s_t``.
        init_cfg (dict, optional): Init config.
    """

    def __init__(self,
                 tasks: Sequence[str] = TASKS,
                 init_log_var: float = 0.0,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        check_tasks(tasks, 'UncertaintyWeighting: tasks')
        self.tasks = tuple(tasks)
        self.log_vars = nn.Parameter(
            torch.full((len(self.tasks), ), float(init_log_var)))

    def forward(self, losses: Dict[str, Tensor]) -> Dict[str, Tensor]:
        """Scale the loss terms of each task and add its regulariser."""
        out, present = {}, set()
        for name, value in losses.items():
            task = task_of(name)
            if 'loss' in name and task in self.tasks:
                scale = torch.exp(-self.log_vars[self.tasks.index(task)])
                value = [v * scale for v in value] if isinstance(
                    value, list) else value * scale
                present.add(task)
            out[name] = value
        for i, task in enumerate(self.tasks):
            if task in present:
                # a regulariser of the task itself: PCGrad / GradNorm group it
                # with the task, and it stays 0 at initialisation
                out[f'{task}.loss_uncertainty'] = self.log_vars[i]
            out[f'{task}.weight'] = torch.exp(-self.log_vars[i]).detach()
        return out
