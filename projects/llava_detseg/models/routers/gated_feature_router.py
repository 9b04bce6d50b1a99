"""Gated feature router: per-task layer gates and shared / task / pooled
experts between the shared ViT and the task branches (det, seg, vqa and any
registered task part)."""
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmdet.utils import OptConfigType
from mmengine.model import BaseModule
from torch import Tensor, nn

from llava_detseg.registry import MODELS
from llava_detseg.tasks import TASKS, check_tasks, task_spec
from .instructions import DEFAULT_INSTRUCTIONS
from .moe import (AuxOutputs, ExpertMLP, NoisyTopKGate, combine_experts,
                  gate_losses)
from .router_stats import RouterStats

@MODELS.register_module()
class GatedFeatureRouter(BaseModule):
    """Route the shared ViT's layers and experts to each task's branch.

    For a task ``t`` and image ``b`` the router builds a condition
    ``c = MLP(task_embed[t] + W instruction_b)`` from a learned task
    embedding and the instruction's embedding (the mean of the language
    model's input embeddings of its tokens: no language-model pass). From
    ``c`` it predicts, per output level, softmax gates over the tapped
    layers and mixes their tokens. The mixture then passes through experts,
    residually: one shared expert (every task), one expert per task, and a
    pool of ``num_experts`` general experts of which a noisy top-k gate
    (token and ``c`` as input; noise only in training) picks ``top_k`` per
    token. Tasks read as a pyramid (det, seg: their part's ``levels`` is
    ``'pyramid'``) get ``num_levels`` mixtures (the neck's inputs), the
    others one (vqa: the projector's input; cls, itc: the pooled feature).

    The pool's gate is trained with a load-balancing loss (KL of usage to
    uniform, or the Switch form) and the router z-loss, both computed over
    all tokens of all tasks in the batch so that the pool is shared: each
    routing returns its gate outputs (:class:`AuxOutputs`) with its tokens,
    and the caller turns a batch's into losses (:meth:`aux_losses`).

    Args:
        in_channels (int): Width of the ViT tokens.
        in_layers (Sequence[int], optional): Hidden-state indices to mix
            (0 = embeddings, i = after layer i). None: the backbone's
            ``out_indices`` (the detector fills it in).
        num_levels (int): Mixtures produced for det and seg (the neck's
            number of inputs).
        tasks (Sequence[str]): Tasks routed (registered task parts;
            ``LlavaDetSeg`` adds its further ``model.tasks`` when the config
            leaves this out).
        instruction_dims (int, optional): Width of the instruction embedding;
            None: the language model's embedding width (the detector fills it
            in), 0: no instruction conditioning.
        cond_dims (int): Width of the condition ``c``.
        layer_gate (str): ``'learned'`` or ``'fixed'`` (equal weights, the
            "no router" ablation).
        shared_expert (bool): Use the shared expert.
        task_experts (bool): Use one expert per task.
        num_experts (int): Pool size E (0: no pool).
        top_k (int): Pool experts per token.
        noise_std (float): Gate noise in training.
        expert_ratio (float): Hidden width of an expert over ``in_channels``.
        instructions (dict): Default instruction text per task, used when a
            sample carries none (det / seg samples without a question;
            ``instructions.py`` reads and embeds them).
        loss_balance (dict, optional): ``LoadBalanceLoss`` config; None: off.
        loss_z (dict, optional): ``RouterZLoss`` config; None: off.
        layer_selector (dict, optional): ``AdaptiveLayerSelector`` config
            choosing the language task's (vqa's) layer instead of its
            learned gate.
        init_cfg (dict, optional): Init config.
    """

    def __init__(self,
                 in_channels: int,
                 in_layers: Optional[Sequence[int]] = None,
                 num_levels: int = 4,
                 tasks: Sequence[str] = TASKS,
                 instruction_dims: Optional[int] = None,
                 cond_dims: int = 64,
                 layer_gate: str = 'learned',
                 shared_expert: bool = True,
                 task_experts: bool = True,
                 num_experts: int = 4,
                 top_k: int = 2,
                 noise_std: float = 1.0,
                 expert_ratio: float = 1.0,
                 instructions: Optional[Dict[str, str]] = None,
                 loss_balance: OptConfigType = dict(
                     type='LoadBalanceLoss', mode='kl', loss_weight=1e-2),
                 loss_z: OptConfigType = dict(
                     type='RouterZLoss', loss_weight=1e-3),
                 layer_selector: OptConfigType = None,
                 init_cfg: OptConfigType = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if in_layers is None or instruction_dims is None:
            raise ValueError(
                'GatedFeatureRouter: in_layers and instruction_dims must be '
                'set (LlavaDetSeg fills them in from the backbone and the '
                'language branch when the router config leaves them out)')
        check_tasks(tasks, 'GatedFeatureRouter: router.tasks')
        if layer_gate not in ('learned', 'fixed'):
            raise ValueError('GatedFeatureRouter: router.layer_gate must be '
                             f'"learned" or "fixed", got "{layer_gate}"')
        self.in_channels = in_channels
        self.in_layers = tuple(in_layers)
        self.num_layers = len(self.in_layers)
        self.tasks = tuple(tasks)
        specs = {t: task_spec(t) for t in self.tasks}
        self.levels = {
            t: (num_levels if specs[t].levels == 'pyramid' else 1)
            for t in tasks
        }
        # the task whose layer an adaptive selector picks (vqa)
        self.language_task = next(
            (t for t in self.tasks if specs[t].selects_layer), 'vqa')
        self.instruction_dims = instruction_dims
        self.layer_gate = layer_gate
        self.instructions = {**DEFAULT_INSTRUCTIONS, **{
            t: s.instruction for t, s in specs.items()
            if t not in DEFAULT_INSTRUCTIONS}, **(instructions or {})}
        self.num_experts, self.top_k = num_experts, top_k

        # Only what is used is built: a parameter without gradient would
        # stop DDP ("unused parameters") in the fixed-mix ablation.
        gated_tasks = [
            t for t in self.tasks
            if not (t == self.language_task and layer_selector is not None)
        ] if layer_gate == 'learned' else []
        self.task_embed = self.instr_proj = self.cond_mlp = None
        if gated_tasks or num_experts:
            self.task_embed = nn.Embedding(len(self.tasks), cond_dims)
            self.instr_proj = nn.Linear(instruction_dims, cond_dims) \
                if instruction_dims else None
            self.cond_mlp = nn.Sequential(
                nn.LayerNorm(cond_dims), nn.Linear(cond_dims, cond_dims),
                nn.GELU())
        if gated_tasks:
            self.layer_heads = nn.ModuleDict({
                t: nn.Linear(cond_dims, self.levels[t] * self.num_layers)
                for t in gated_tasks
            })
            # Zero weights and bias: the gates start as the equal mix and
            # learn away from it.
            for head in self.layer_heads.values():
                nn.init.zeros_(head.weight)
                nn.init.zeros_(head.bias)
        hidden = max(1, int(in_channels * expert_ratio))
        self.norm = nn.LayerNorm(in_channels) \
            if shared_expert or task_experts or num_experts else None
        self.shared_expert = ExpertMLP(in_channels, hidden, in_channels) \
            if shared_expert else None
        self.task_experts = nn.ModuleDict({
            t: ExpertMLP(in_channels, hidden, in_channels)
            for t in self.tasks
        }) if task_experts else None
        self.pool = self.gate = None
        if num_experts:
            self.pool = nn.ModuleList(
                ExpertMLP(in_channels, hidden, in_channels)
                for _ in range(num_experts))
            self.gate = NoisyTopKGate(in_channels, num_experts, top_k,
                                      noise_std, cond_dims)
        self.loss_balance = MODELS.build(loss_balance) \
            if loss_balance and num_experts else None
        self.loss_z = MODELS.build(loss_z) if loss_z and num_experts else None
        self.layer_selector = None
        if layer_selector is not None:
            layer_selector = dict(layer_selector)
            layer_selector.setdefault('in_channels', in_channels)
            layer_selector.setdefault('instruction_dims', instruction_dims)
            layer_selector.setdefault('num_layers', self.num_layers)
            self.layer_selector = MODELS.build(layer_selector)
        self.stats = RouterStats()

    # ------------------------------------------------------------------
    # routing
    # ------------------------------------------------------------------
    def _cond(self, task: str, instruction: Optional[Tensor],
              batch: int, device: torch.device) -> Tensor:
        if self.task_embed is None:
            return None
        tid = torch.full((batch, ), self.tasks.index(task), device=device)
        c = self.task_embed(tid)
        if self.instr_proj is not None and instruction is not None:
            c = c + self.instr_proj(instruction.to(c.dtype))
        return self.cond_mlp(c)

    def layer_weights(self, task: str, cond: Optional[Tensor], b: int,
                      device: torch.device) -> Tensor:
        """(B, levels, L) softmax gates over the tapped layers."""
        if self.layer_gate == 'fixed':
            return torch.full((b, self.levels[task], self.num_layers),
                              1.0 / self.num_layers, device=device)
        logits = self.layer_heads[task](cond).view(b, self.levels[task],
                                                   self.num_layers)
        return logits.softmax(-1)

    def _taps(self, hidden_states: Sequence[Tensor]) -> Tensor:
        try:
            return torch.stack([hidden_states[i] for i in self.in_layers], 1)
        except IndexError:
            raise ValueError(
                f'GatedFeatureRouter: router.in_layers {self.in_layers} '
                f'asks for hidden states the backbone does not have (it '
                f'gives {len(hidden_states)}: 0..{len(hidden_states) - 1})'
            ) from None

    def _experts(self, task: str, x: Tensor,
                 cond: Tensor) -> Tuple[Tensor, AuxOutputs]:
        """Residual experts on (B, M, N, C) tokens, ``cond`` (B, Dc), and
        the pool gate's outputs."""
        aux = AuxOutputs()
        if self.norm is None:
            return x, aux
        shape = x.shape
        flat = x.reshape(-1, shape[-1])
        h = self.norm(flat)
        out = flat
        if self.shared_expert is not None:
            out = out + self.shared_expert(h)
        if self.task_experts is not None:
            out = out + self.task_experts[task](h)
        if self.gate is not None:
            tokens_per_sample = flat.shape[0] // shape[0]
            c = cond.repeat_interleave(tokens_per_sample, dim=0)
            gate = self.gate(h, c)
            out = out + combine_experts(h, self.pool, gate.weights,
                                        shape[-1])
            aux = AuxOutputs.of('router', gate, self.training)
            self.stats.add(f'expert_usage/{task}', gate.dispatch.sum(0),
                           gate.dispatch.sum())
        return out.view(shape), aux

    def _mix(self, task: str, taps: Tensor, weights: Tensor,
             cond: Tensor) -> Tuple[Tensor, AuxOutputs]:
        """(B, levels, N, C) expert outputs of the weighted layer mixes,
        and the gate outputs."""
        mixed = torch.einsum('bml,blnc->bmnc', weights.to(taps.dtype), taps)
        self.stats.add(f'layer_gate/{task}', weights.sum(0), weights.shape[0])
        return self._experts(task, mixed, cond)

    def forward(self,
                task: str,
                hidden_states: Sequence[Tensor],
                instruction: Optional[Tensor] = None
                ) -> Tuple[List[Tensor], Tensor, AuxOutputs]:
        """Route one task's samples.

        Args:
            task (str): One of ``router.tasks``.
            hidden_states (Sequence[Tensor]): The backbone's (B, 1 + HW, C)
                hidden states of these samples (all layers).
            instruction (Tensor, optional): (B, D) instruction embeddings.

        Returns:
            tuple: ``levels`` tensors of (B, 1 + HW, C) tokens, the (B, L)
            layer weights of the last level (vqa: what the adaptive
            projector reads) and the pool gate's outputs for
            :meth:`aux_losses`.
        """
        if task not in self.tasks:
            raise ValueError(f'GatedFeatureRouter: task "{task}" is not in '
                             f'router.tasks {self.tasks}')
        taps = self._taps(hidden_states)
        cond = self._cond(task, instruction, taps.shape[0], taps.device)
        if task == self.language_task and self.layer_selector is not None:
            weights = self._selected_weights(taps, instruction)[:, None]
        else:
            weights = self.layer_weights(task, cond, taps.shape[0],
                                         taps.device)
        out, aux = self._mix(task, taps, weights, cond)
        return list(out.unbind(1)), weights[:, -1], aux

    def to_maps(self, tokens: Sequence[Tensor],
                shape: Tuple[int, int]) -> Tuple[Tensor, ...]:
        """(B, 1 + HW, C) tokens to (B, C, H, W) maps, CLS dropped."""
        h, w = shape
        return tuple(t[:, 1:].transpose(1, 2).reshape(t.shape[0], -1, h, w)
                     for t in tokens)

    # ------------------------------------------------------------------
    # adaptive layer selection (the language task, vqa)
    # ------------------------------------------------------------------
    def _selector_logits(self, taps: Tensor,
                         instruction: Optional[Tensor]) -> Tensor:
        # [CLS] of the deepest candidate layer: the most semantic summary
        return self.layer_selector(taps[:, -1, 0], instruction)

    def _selected_weights(self, taps: Tensor,
                          instruction: Optional[Tensor]) -> Tensor:
        logits = self._selector_logits(taps, instruction)
        if self.layer_selector.mode == 'soft':
            weights = logits.softmax(-1)
        else:
            weights = F.one_hot(logits.argmax(-1), self.num_layers).to(
                taps.dtype)
        self.stats.add('selected_layer', weights.sum(0), weights.shape[0])
        return weights

    def vqa_loss(self, language: nn.Module, hidden_states: Sequence[Tensor],
                 instruction: Optional[Tensor], conversations: Sequence,
                 image_index: Sequence[int]
                 ) -> Tuple[Dict[str, Tensor], AuxOutputs]:
        """The language branch's loss on routed tokens, and the routings'
        gate outputs (the router's and a routed projector's).

        With a hard layer selector, the answer loss of each image's
        ``top_k`` candidate layers is evaluated without gradient; the
        language model trains on the candidate with the least loss and the
        classifier learns it as its target (``router.loss_layer_cls`` in
        the returned :class:`AuxOutputs`).
        """
        sel = self.layer_selector
        if sel is None or sel.mode == 'soft' or not self.training:
            tokens, weights, aux = self(hidden_states=hidden_states,
                                        task=self.language_task,
                                        instruction=instruction)
            tokens, proj_aux = language.project(tokens[0], weights,
                                                return_aux=True)
            aux += proj_aux
            return language.loss(tokens, conversations, image_index), aux
        taps = self._taps(hidden_states)
        b = taps.shape[0]
        task = self.language_task
        cond = self._cond(task, instruction, b, taps.device)
        logits = self._selector_logits(taps, instruction)
        cand = logits.topk(sel.top_k, dim=-1).indices  # (B, k)
        owner = torch.as_tensor(image_index, device=taps.device)
        per_image = []
        with torch.no_grad():
            for j in range(sel.top_k):
                w = F.one_hot(cand[:, j], self.num_layers).to(taps.dtype)
                mixed = torch.einsum('bl,blnc->bnc', w, taps)[:, None]
                tokens = self._experts_nostat(task, mixed, cond)[0][:, 0]
                seq = language.loss(
                    language.project(tokens, w), conversations,
                    image_index, reduction='none')['loss_lm']
                per_image.append(
                    seq.new_zeros(b).index_add(0, owner, seq.float()))
        best = torch.stack(per_image, 1).argmin(1)  # (B,)
        target = cand.gather(1, best[:, None])[:, 0]
        w = F.one_hot(target, self.num_layers).to(taps.dtype)
        self.stats.add('selected_layer', w.sum(0), b)
        tokens, aux = self._mix(task, taps, w[:, None], cond)
        tokens, proj_aux = language.project(tokens[:, 0], w, return_aux=True)
        aux += proj_aux
        losses = language.loss(tokens, conversations, image_index)
        aux.losses['router.loss_layer_cls'] = sel.loss_weight * \
            F.cross_entropy(logits.float(), target)
        return losses, aux

    def _experts_nostat(self, task: str, x: Tensor,
                        cond: Tensor) -> Tuple[Tensor, AuxOutputs]:
        """Experts without recording statistics (candidate scoring, under
        ``no_grad``: no gates either); the gate's noise still applies in
        training."""
        saved, self.stats = self.stats, RouterStats()
        try:
            return self._experts(task, x, cond)
        finally:
            self.stats = saved

    # ------------------------------------------------------------------
    # losses
    # ------------------------------------------------------------------
    def aux_losses(self, aux: AuxOutputs) -> Dict[str, Tensor]:
        """Balance and z-losses over the router's gate outputs in ``aux``
        (every routing of a batch, all tasks)."""
        return gate_losses(aux.gates.get('router', []), self.loss_balance,
                           self.loss_z)


def build_router(cfg: dict, backbone: nn.Module,
                 language: Optional[nn.Module],
                 tasks: Optional[Sequence[str]] = None) -> nn.Module:
    """Build ``model.router``, filling in what the other modules know.

    ``in_channels``: the backbone's width; ``in_layers``, ``num_levels``
    (a pyramid input per tap): its ``out_indices``; ``instruction_dims``: the
    language model's embedding width (0 without one); ``tasks``: the parts.
    """
    cfg = dict(cfg)
    if tasks is not None:
        cfg.setdefault('tasks', tuple(tasks))
    cfg.setdefault('in_channels', backbone.embed_dims)
    taps = getattr(backbone, 'out_indices', None)
    cfg.setdefault('in_layers', taps)
    if taps is not None:
        cfg.setdefault('num_levels', len(taps))
    if cfg.get('instruction_dims') is None:
        cfg['instruction_dims'] = 0 if language is None else \
            language.llava.get_input_embeddings().embedding_dim
    if cfg['in_channels'] != backbone.embed_dims:
        raise ValueError(
            f'router.in_channels={cfg["in_channels"]} but the backbone gives '
            f'{backbone.embed_dims}-wide tokens; leave it out to take the '
            'backbone\'s')
    return MODELS.build(cfg)
