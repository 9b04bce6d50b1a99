from .contrastive import (CrossModalAlignmentLoss, InfoNCELoss,
                          cross_modal_alignment_loss, info_nce_loss)
from .distillation import TaskDistiller
from .loss_balancers import (UncertaintyWeighting, group_task_losses,
                             task_of)
from .router_losses import (LoadBalanceLoss, RouterZLoss, load_balance_kl,
                            load_balance_switch, router_z_loss)

__all__ = [
    'CrossModalAlignmentLoss', 'InfoNCELoss', 'cross_modal_alignment_loss',
    'info_nce_loss', 'TaskDistiller', 'UncertaintyWeighting',
    'group_task_losses', 'task_of',
    'LoadBalanceLoss', 'RouterZLoss', 'load_balance_kl',
    'load_balance_switch', 'router_z_loss'
]
