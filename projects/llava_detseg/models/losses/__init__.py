from .distillation import TaskDistiller
from .loss_balancers import (UncertaintyWeighting, group_task_losses,
                             task_of)

__all__ = [
    'TaskDistiller', 'UncertaintyWeighting', 'group_task_losses', 'task_of'
]
