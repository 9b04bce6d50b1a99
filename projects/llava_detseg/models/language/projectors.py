"""Vision-to-language projectors selectable by config.

``projector=dict(type=...)`` of ``LlavaLanguageBranch`` takes one of
``linear``, ``mlp2x_gelu``, ``identity``, ``moe``, ``adaptive_moe`` (or the
class names). ``in_dims`` / ``out_dims`` are filled in by the branch. Routed
projectors also return their gate outputs with their tokens
(``forward_with_aux``: ``(tokens, AuxOutputs)``) and turn a batch's into
balance and z-losses (``aux_losses``); ``forward`` gives the tokens alone,
as every projector does.
"""
from typing import Dict, Optional, Tuple

from mmdet.utils import OptConfigType
from torch import Tensor, nn

from llava_detseg.registry import MODELS
from ..routers.moe import (AuxOutputs, ExpertMLP, GateOutput, NoisyTopKGate,
                          combine_experts, gate_losses)


@MODELS.register_module(name=['LinearProjector', 'linear'])
class LinearProjector(nn.Linear):
    """One linear layer (LLaVA-1.0's projector).

    Args:
        in_dims (int): Vision width.
        out_dims (int): Language-model width.
    """

    def __init__(self, in_dims: int, out_dims: int) -> None:
        super().__init__(in_dims, out_dims)


@MODELS.register_module(name=['MLPProjector', 'mlp2x_gelu'])
class MLPProjector(nn.Module):
    """LLaVA-1.5's ``mlp2x_gelu``: ``Linear -> GELU -> Linear``.

    The attribute names are those of transformers'
    ``LlavaMultiModalProjector`` so that its pretrained weights load as they
    are (``LlavaLanguageBranch`` copies them in when
    ``load_pretrained=True``).

    Args:
        in_dims (int): Vision width.
        out_dims (int): Language-model width.
        load_pretrained (bool): Start from the checkpoint's projector.
    """

    def __init__(self, in_dims: int, out_dims: int,
                 load_pretrained: bool = True) -> None:
        super().__init__()
        self.load_pretrained = load_pretrained
        self.linear_1 = nn.Linear(in_dims, out_dims)
        self.act = nn.GELU()
        self.linear_2 = nn.Linear(out_dims, out_dims)

    def forward(self, x: Tensor) -> Tensor:
        return self.linear_2(self.act(self.linear_1(x)))


@MODELS.register_module(name=['IdentityProjector', 'identity'])
class IdentityProjector(nn.Module):
    """No projection; the vision and language widths must agree.

    Args:
        in_dims (int): Vision width.
        out_dims (int): Language-model width.
    """

    def __init__(self, in_dims: int, out_dims: int) -> None:
        super().__init__()
        if in_dims != out_dims:
            raise ValueError(
                f'identity projector: vision width {in_dims} differs from '
                f'the language model width {out_dims}; choose another '
                'language.projector type')

    def forward(self, x: Tensor) -> Tensor:
        return x


class _RoutedProjector(nn.Module):
    """Returns its gate outputs with its tokens (``forward_with_aux``) and
    counts expert usage (``usage``, read and reset by ``RouterStatsHook``).
    """

    def forward(self, *args, **kwargs) -> Tensor:
        return self.forward_with_aux(*args, **kwargs)[0]

    def _init_losses(self, loss_balance: OptConfigType,
                     loss_z: OptConfigType) -> None:
        self.loss_balance = MODELS.build(loss_balance) if loss_balance \
            else None
        self.loss_z = MODELS.build(loss_z) if loss_z else None
        self.usage = None  # (E,) dispatch counts since the last read

    def _record(self, gate: GateOutput) -> AuxOutputs:
        counts = gate.dispatch.detach().sum(0).float().cpu()
        self.usage = counts if self.usage is None else self.usage + counts
        return AuxOutputs.of('projector', gate, self.training)

    def aux_losses(self, aux: AuxOutputs) -> Dict[str, Tensor]:
        """Balance and z-losses over the projector's gate outputs in
        ``aux`` (every forward of a batch)."""
        return gate_losses(aux.gates.get('projector', []), self.loss_balance,
                           self.loss_z)


@MODELS.register_module(name=['MoEProjector', 'moe'])
class MoEProjector(_RoutedProjector):
    """``mlp2x_gelu`` plus a residual mixture of expert MLPs.

    ``out = base(x) + norm(sum_k g_k expert_k(x))``: the base keeps (and
    loads) LLaVA's pretrained projector, the experts add a correction chosen
    per token by a noisy top-k gate (noise only in training), normalised so
    that no expert can swamp the base at the start.

    Args:
        in_dims (int): Vision width.
        out_dims (int): Language-model width.
        num_experts (int): Experts in the pool.
        top_k (int): Experts per token.
        noise_std (float): Gate noise while training.
        hidden_dims (int, optional): Hidden width of an expert
            (default ``out_dims``).
        load_pretrained (bool): Start the base from the checkpoint's
            projector.
        loss_balance (dict, optional): ``LoadBalanceLoss`` config.
        loss_z (dict, optional): ``RouterZLoss`` config.
    """

    def __init__(self,
                 in_dims: int,
                 out_dims: int,
                 num_experts: int = 4,
                 top_k: int = 2,
                 noise_std: float = 1.0,
                 hidden_dims: Optional[int] = None,
                 load_pretrained: bool = True,
                 loss_balance: OptConfigType = dict(
                     type='LoadBalanceLoss', mode='kl', loss_weight=1e-2),
                 loss_z: OptConfigType = dict(
                     type='RouterZLoss', loss_weight=1e-3)) -> None:
        super().__init__()
        self.load_pretrained = load_pretrained
        self.base = MLPProjector(in_dims, out_dims)
        self.in_norm = nn.LayerNorm(in_dims)
        self.gate = NoisyTopKGate(in_dims, num_experts, top_k, noise_std)
        self.experts = nn.ModuleList(
            ExpertMLP(in_dims, hidden_dims or out_dims, out_dims)
            for _ in range(num_experts))
        self.out_norm = nn.LayerNorm(out_dims)
        self.out_dims = out_dims
        self._init_losses(loss_balance, loss_z)

    @property
    def linear_1(self) -> nn.Linear:
        """The base's first layer (its dtype is the projector's)."""
        return self.base.linear_1

    def forward_with_aux(self, x: Tensor) -> Tuple[Tensor, AuxOutputs]:
        """The projected tokens and the gate's outputs."""
        shape = x.shape
        flat = x.reshape(-1, shape[-1])
        h = self.in_norm(flat)
        gate = self.gate(h)
        aux = self._record(gate)
        moe = combine_experts(h, self.experts, gate.weights, self.out_dims)
        out = self.base(flat) + self.out_norm(moe)
        return out.view(*shape[:-1], self.out_dims), aux


@MODELS.register_module(name=['AdaptiveMoEProjector', 'adaptive_moe'])
class AdaptiveMoEProjector(_RoutedProjector):
    """A projection specific to the selected ViT layer.

    One ``mlp2x_gelu`` per candidate layer; the tokens of the layer the
    router or layer selector picked (or their mix) go through that layer's
    projection, ``out = sum_l w_l proj_l(x)`` with the (B, L) layer weights
    the router hands over. The "gate" is the layer choice, so its usage is
    recorded and balanced like an MoE's.

    Args:
        in_dims (int): Vision width.
        out_dims (int): Language-model width.
        num_layers (int): Candidate layers (``router.in_layers``).
        load_pretrained (bool): Start every projection from the
            checkpoint's projector.
        loss_balance (dict, optional): ``LoadBalanceLoss`` config over the
            layer weights.
    """
    takes_layer_weights = True

    def __init__(self,
                 in_dims: int,
                 out_dims: int,
                 num_layers: int = 4,
                 load_pretrained: bool = True,
                 loss_balance: OptConfigType = None) -> None:
        super().__init__()
        self.load_pretrained = load_pretrained
        self.num_layers = num_layers
        self.projs = nn.ModuleList(
            MLPProjector(in_dims, out_dims) for _ in range(num_layers))
        self.out_dims = out_dims
        self._init_losses(loss_balance, None)

    @property
    def linear_1(self) -> nn.Linear:
        return self.projs[0].linear_1

    def load_base(self, state: dict) -> None:
        """Copy a pretrained ``mlp2x_gelu`` state into every projection."""
        for proj in self.projs:
            proj.load_state_dict(state)

    def forward_with_aux(self, x: Tensor,
                         layer_weights: Optional[Tensor] = None
                         ) -> Tuple[Tensor, AuxOutputs]:
        """The projected tokens and the layer choice as a gate output."""
        b = x.shape[0]
        if layer_weights is None:
            raise ValueError(
                'adaptive_moe projector needs the layer weights of a router '
                '(set model.router) to know which projection to use')
        if layer_weights.shape != (b, self.num_layers):
            raise ValueError(
                f'adaptive_moe projector has num_layers={self.num_layers} '
                f'but got layer weights of shape '
                f'{tuple(layer_weights.shape)}; set '
                'language.projector.num_layers to len(router.in_layers)')
        w = layer_weights.to(x.dtype)
        aux = self._record(GateOutput(w, w, w, (w > 0).to(w.dtype)))
        out = x.new_zeros(*x.shape[:-1], self.out_dims)
        for layer, proj in enumerate(self.projs):
            rows = w[:, layer].nonzero(as_tuple=True)[0]
            if rows.numel():
                out = out.index_add(
                    0, rows, w[rows, layer, None, None] * proj(x[rows]))
        return out, aux


def build_projector(cfg: dict, pretrained: Optional[nn.Module], in_dims: int,
                    out_dims: int) -> nn.Module:
    """Build ``language.projector`` and load the checkpoint's weights.

    Args:
        cfg (dict): The projector config; ``in_dims`` / ``out_dims`` are
            filled in.
        pretrained (nn.Module, optional): The checkpoint's
            ``multi_modal_projector`` (``mlp2x_gelu``); its weights are
            copied into ``mlp2x_gelu`` projectors and the bases of ``moe`` /
            ``adaptive_moe`` when their ``load_pretrained`` is true.
        in_dims (int): Vision width.
        out_dims (int): Language-model width.
    """
    cfg = dict(cfg)
    cfg.setdefault('in_dims', in_dims)
    cfg.setdefault('out_dims', out_dims)
    proj = MODELS.build(cfg)
    if not getattr(proj, 'load_pretrained', False) or pretrained is None:
        return proj
    state = pretrained.state_dict()
    target = proj.base if isinstance(proj, MoEProjector) else proj
    try:
        if isinstance(proj, AdaptiveMoEProjector):
            proj.load_base(state)
        else:
            target.load_state_dict(state)
    except RuntimeError as e:
        raise ValueError(
            f'language.projector {cfg["type"]}: the checkpoint\'s '
            f'multi_modal_projector does not fit ({e}); set '
            'load_pretrained=False') from None
    return proj
