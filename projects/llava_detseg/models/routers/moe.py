"""Mixture-of-experts pieces shared by the router and the MoE projectors."""
from dataclasses import dataclass, field
from typing import Dict, List, NamedTuple, Optional, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class GateOutput(NamedTuple):
    """What a :class:`NoisyTopKGate` decides for T tokens and E experts.

    Attributes:
        weights (Tensor): (T, E) combine weights, non-zero on the k chosen
            experts only, summing to one per token.
        logits (Tensor): (T, E) clean logits (for the z-loss).
        probs (Tensor): (T, E) softmax of the clean logits (for balancing).
        dispatch (Tensor): (T, E) 0/1 mask of the chosen experts.
    """
    weights: Tensor
    logits: Tensor
    probs: Tensor
    dispatch: Tensor


class NoisyTopKGate(nn.Module):
    """Noisy top-k gating (Shazeer et al. 2017), noise only while training.

    Args:
        in_dims (int): Width of a token.
        num_experts (int): E, the pool size.
        top_k (int): Experts per token (1 <= k <= E).
        noise_std (float): Std of the Gaussian noise added to the logits
            before the top-k choice in training mode.
        cond_dims (int): Width of an optional per-token condition (task and
            instruction) added to the logits; 0 for none.
    """

    def __init__(self,
                 in_dims: int,
                 num_experts: int,
                 top_k: int = 2,
                 noise_std: float = 1.0,
                 cond_dims: int = 0) -> None:
        super().__init__()
        if not 1 <= top_k <= num_experts:
            raise ValueError(f'top_k must be in 1..num_experts '
                             f'({num_experts}), got {top_k}')
        self.num_experts, self.top_k = num_experts, top_k
        self.noise_std = noise_std
        self.proj = nn.Linear(in_dims, num_experts)
        self.cond = nn.Linear(cond_dims, num_experts, bias=False) \
            if cond_dims else None
        # Small logits at the start: every expert is equally likely.
        nn.init.normal_(self.proj.weight, std=0.02)
        nn.init.zeros_(self.proj.bias)

    def forward(self, x: Tensor, cond: Optional[Tensor] = None) -> GateOutput:
        """Route (T, C) tokens; ``cond`` is (T, cond_dims) or None."""
        logits = self.proj(x)
        if self.cond is not None and cond is not None:
            logits = logits + self.cond(cond)
        noisy = logits
        if self.training and self.noise_std > 0:
            noisy = logits + torch.randn_like(logits) * self.noise_std
        top_val, top_idx = noisy.topk(self.top_k, dim=-1)
        dispatch = torch.zeros_like(logits).scatter(-1, top_idx, 1.0)
        weights = torch.zeros_like(logits).scatter(
            -1, top_idx, F.softmax(top_val, dim=-1))
        return GateOutput(weights, logits, F.softmax(logits, dim=-1),
                          dispatch)


class ExpertMLP(nn.Sequential):
    """``Linear -> GELU -> Linear``: one expert (and LLaVA's mlp2x_gelu)."""

    def __init__(self, in_dims: int, hidden_dims: int,
                 out_dims: int) -> None:
        super().__init__(
            nn.Linear(in_dims, hidden_dims), nn.GELU(),
            nn.Linear(hidden_dims, out_dims))


def combine_experts(x: Tensor, experts: nn.ModuleList, weights: Tensor,
                    out_dims: int) -> Tensor:
    """``sum_e weights[:, e] * experts[e](x)`` computing only routed tokens.

    Args:
        x (Tensor): (T, C) tokens.
        experts (nn.ModuleList): E experts.
        weights (Tensor): (T, E) sparse combine weights.
        out_dims (int): Width of an expert's output.
    """
    out = x.new_zeros(x.shape[0], out_dims)
    for e, expert in enumerate(experts):
        rows = weights[:, e].nonzero(as_tuple=True)[0]
        if rows.numel() == 0:
            continue
        out = out.index_add(
            0, rows, weights[rows, e, None] * expert(x[rows]).to(out.dtype))
    return out


@dataclass
class AuxOutputs:
    """What a routed module returns beside its outputs for the auxiliary
    losses: the gate outputs of its routings per owner (``'router'``,
    ``'projector'``) and losses already complete (``'router.loss_layer_cls'``).

    Gate outputs rather than losses, because the balance and z-losses of a
    shared expert pool are taken over every token it routed in a batch (all
    tasks at once, so that the pool is shared rather than balanced per
    task): the caller adds the parts of one batch (``+=``) and the owner
    turns its gates into losses (:func:`gate_losses`). Empty outside
    training or without gradient.
    """
    gates: Dict[str, List[GateOutput]] = field(default_factory=dict)
    losses: Dict[str, Tensor] = field(default_factory=dict)

    def extend(self, other: 'AuxOutputs') -> None:
        """Add ``other``'s gate outputs and losses to these."""
        for owner, gates in other.gates.items():
            self.gates.setdefault(owner, []).extend(gates)
        self.losses.update(other.losses)

    def __iadd__(self, other: 'AuxOutputs') -> 'AuxOutputs':
        self.extend(other)
        return self

    @classmethod
    def of(cls, owner: str, gate: Optional[GateOutput],
           training: bool) -> 'AuxOutputs':
        """One gate output of ``owner``, kept only where it trains (a
        module in training mode, gradients on)."""
        if gate is None or not (training and torch.is_grad_enabled()):
            return cls()
        return cls(gates={owner: [gate]})


def gate_losses(gates: Sequence[GateOutput], loss_balance: Optional[nn.Module],
                loss_z: Optional[nn.Module]) -> Dict[str, Tensor]:
    """``loss_balance`` / ``loss_z`` over the tokens of all ``gates``."""
    if not gates:
        return {}
    out = {}
    if loss_balance is not None:
        out['loss_balance'] = loss_balance(
            torch.cat([g.probs for g in gates]),
            torch.cat([g.dispatch for g in gates]))
    if loss_z is not None:
        out['loss_z'] = loss_z(torch.cat([g.logits for g in gates]))
    return out
