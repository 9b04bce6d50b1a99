from .distillation import TaskDistiller
from .loss_balancers import (UncertaintyWeighting, group_task_losses,
                             task_of)
from .router_losses import (LoadBalanceLoss, RouterZLoss, load_balance_kl,
                            load_balance_switch, router_z_loss)

__all__ = [
    'TaskDistiller', 'UncertaintyWeighting', 'group_task_losses', 'task_of',
    'LoadBalanceLoss', 'RouterZLoss', 'load_balance_kl',
    'load_balance_switch', 'router_z_loss'
]
