"""Auxiliary losses of the routers: load balancing and router z-loss."""
import math

import torch
from torch import Tensor, nn

from llava_detseg.registry import MODELS


def load_balance_kl(probs: Tensor) -> Tensor:
    """KL(usage || uniform) of the mean routing distribution.

    Args:
        probs (Tensor): (T, E) routing probabilities of T tokens.

    Returns:
        Tensor: ``sum_e u_e log(E u_e)`` with ``u`` the mean of ``probs``
        over tokens; 0 exactly when every expert gets the same share.
    """
    usage = probs.reshape(-1, probs.shape[-1]).float().mean(0)
    num = usage.numel()
    return (usage * (usage.clamp_min(1e-12).log() + math.log(num))).sum()


def load_balance_switch(probs: Tensor, dispatch: Tensor) -> Tensor:
    """Switch-Transformer balance loss ``E * sum_e f_e P_e`` (Fedus 2021).

    Args:
        probs (Tensor): (T, E) routing probabilities.
        dispatch (Tensor): (T, E) 0/1 mask of the experts each token went to
            (top-k); ``f_e`` is its share of the dispatches.

    Returns:
        Tensor: 1 at perfect balance, up to E when one expert takes all.
    """
    probs = probs.reshape(-1, probs.shape[-1]).float()
    dispatch = dispatch.reshape(-1, dispatch.shape[-1]).float()
    frac = dispatch.sum(0) / dispatch.sum().clamp_min(1.0)
    return probs.shape[-1] * (frac * probs.mean(0)).sum()


def router_z_loss(logits: Tensor) -> Tensor:
    """ST-MoE router z-loss: mean of ``logsumexp(logits)^2`` (Zoph 2022).

    Keeps the gate logits small, which keeps the softmax out of its
    saturated, badly-conditioned range.
    """
    logits = logits.reshape(-1, logits.shape[-1]).float()
    return torch.logsumexp(logits, dim=-1).pow(2).mean()


@MODELS.register_module()
class LoadBalanceLoss(nn.Module):
    """Load-balancing loss over a gate's expert usage.

    Args:
        mode (str): ``'kl'`` for KL(usage || uniform) or ``'switch'`` for the
            Switch-Transformer form ``E * sum_e f_e P_e``.
        loss_weight (float): Weight of the loss.
    """

    def __init__(self, mode: str = 'kl', loss_weight: float = 1e-2) -> None:
        super().__init__()
        if mode not in ('kl', 'switch'):
            raise ValueError(f'LoadBalanceLoss: mode must be "kl" or '
                             f'"switch", got "{mode}"')
        self.mode = mode
        self.loss_weight = loss_weight

    def forward(self, probs: Tensor, dispatch: Tensor) -> Tensor:
        """Weighted loss from (T, E) probabilities and dispatch mask."""
        if self.mode == 'kl':
            loss = load_balance_kl(probs)
        else:
            loss = load_balance_switch(probs, dispatch)
        return self.loss_weight * loss


@MODELS.register_module()
class RouterZLoss(nn.Module):
    """Router z-loss on gate logits.

    Args:
        loss_weight (float): Weight of the loss (ST-MoE uses 1e-3).
    """

    def __init__(self, loss_weight: float = 1e-3) -> None:
        super().__init__()
        self.loss_weight = loss_weight

    def forward(self, logits: Tensor) -> Tensor:
        """Weighted z-loss of (..., E) logits."""
        return self.loss_weight * router_z_loss(logits)
