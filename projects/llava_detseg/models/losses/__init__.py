from .router_losses import (LoadBalanceLoss, RouterZLoss, load_balance_kl,
                            load_balance_switch, router_z_loss)

__all__ = [
    'LoadBalanceLoss', 'RouterZLoss', 'load_balance_kl',
    'load_balance_switch', 'router_z_loss'
]
