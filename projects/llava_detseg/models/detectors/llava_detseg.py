"""The top-level multi-task model: one backbone pass, a branch per task."""
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
from mmdet.structures import DetDataSample
from mmdet.utils import ConfigType, OptConfigType
from mmengine.model import BaseModel
from torch import Tensor, nn

from llava_detseg.registry import MODELS
from ..backbones.clip_vit import ViTOutputs
from ..language.responder import (BatchImageTokens, Request,
                                   answer_requests, conversation_rows,
                                   dataset_requests, score_conversations,
                                   store_responses)
from ..language.text_tasks import TextTaskIO
from llava_detseg.registry import TASKS as TASK_PARTS
from llava_detseg.tasks import TASKS, check_tasks
from ..routers import build_router
from ..routers.moe import AuxOutputs
from ..tasks.base import BaseTask, TaskBatch
from .task_inputs import TaskInputs
from ..utils import build_in_scope
from ..utils.scalar_params import vectorize_scalar_params


@MODELS.register_module()
class LlavaDetSeg(TaskInputs, BaseModel):
    """A LLaVA-style model that also detects and segments.

    The backbone runs once per image; its tapped maps go through the neck to
    the detection head (mmdet ``FCOSHead``) and the segmentation head (mmseg
    decode head), its hidden states to the language branch. Each sample is
    sent only to the branches of the tasks in its ``tasks`` metainfo.

    Every task is a part (``models/tasks``, ``registry.TASKS``): ``det``,
    ``seg`` and ``vqa`` are configured by ``det_head`` / ``seg_head`` /
    ``language``, any other registered task by an entry of ``tasks``; the
    model loops over its parts for losses and predictions, so a new task
    is a registered class and a config entry, no edit here.

    Args:
        backbone (dict): e.g. ``CLIPViTBackbone``.
        neck (dict | list[dict]): One neck or several applied in order
            (``SimplePyramid`` then ``mmdet.FPN``).
        det_head (dict, optional): Detection head, e.g. ``mmdet.FCOSHead``.
        seg_head (dict, optional): Decode head, e.g. ``mmseg.FCNHead``.
        language (dict, optional): e.g. ``LlavaLanguageBranch``.
        loss_weights (dict): Per-task weight of its losses (``det``, ``seg``,
            ``vqa``).
        train_cfg (dict, optional): ``det`` / ``seg`` entries are passed to
            the heads.
        test_cfg (dict, optional): ``det`` entry is the FCOS test config.
        text_cfg (dict, optional): Answer the samples' ``text_conversations``
            with ``<DET>``/``<SEG>`` blocks: ``TextTaskIO`` arguments
            (``classes``, ``mode='grounded'|'generative'``, ...). ``None``
            (default): no text answers.
        data_preprocessor (dict, optional): e.g.
            ``MultiTaskDataPreprocessor``.
        adapters (dict, optional): LoRA / Conv-LoRA groups and what trains,
            the arguments of ``TaskAdapters``; applied after the parts are
            built (checkpoints without adapters still load). None: no
            adapters, every weight as the parts set it.
        loss_balancer (dict, optional): A learnt task weighting applied to
            the losses, e.g. ``UncertaintyWeighting``. GradNorm and PCGrad
            are optimiser wrappers instead (``engine/optim_wrappers``).
        distiller (dict, optional): ``TaskDistiller``: KL toward the
            adapter-free model (answers) and a det/seg teacher checkpoint.
        gradient_checkpointing (bool): Recompute the HF models' activations
            in the backward pass (less memory, ~30 % more compute).
        router (dict, optional): e.g. ``GatedFeatureRouter``: per-task
            layer and expert routing between the backbone and the branches
            (the neck then runs per task on the routed maps). None: every
            branch reads the backbone as it is.
        tasks (dict, optional): Further tasks, ``{name: cfg}`` with ``cfg``
            the arguments of the task part registered as ``name`` (or as
            ``cfg['type']``), e.g. ``cls=dict(head=dict(
            type='LinearClsHead', num_classes=10))``; None values are off.
        init_cfg (dict, optional): Init config.
    """

    def __init__(self,
                 backbone: ConfigType,
                 neck: Union[ConfigType, Sequence[ConfigType]],
                 det_head: OptConfigType = None,
                 seg_head: OptConfigType = None,
                 language: OptConfigType = None,
                 loss_weights: Optional[Dict[str, float]] = None,
                 train_cfg: OptConfigType = None,
                 test_cfg: OptConfigType = None,
                 text_cfg: OptConfigType = None,
                 data_preprocessor: OptConfigType = None,
                 adapters: OptConfigType = None,
                 loss_balancer: OptConfigType = None,
                 distiller: OptConfigType = None,
                 gradient_checkpointing: bool = False,
                 router: OptConfigType = None,
                 tasks: Optional[Dict[str, OptConfigType]] = None,
                 init_cfg: OptConfigType = None) -> None:
        super().__init__(
            data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        extra = {k: v for k, v in (tasks or {}).items() if v is not None}
        taken = set(extra) & set(TASKS)
        if taken:
            raise ValueError(
                f'model.tasks.{sorted(taken)[0]}: det / seg / vqa are '
                'configured by model.det_head / seg_head / language')
        check_tasks([dict(c).get('type', k) for k, c in extra.items()],
                    'model.tasks')
        names = TASKS + tuple(extra)
        unknown = set(loss_weights or {}) - set(names)
        if unknown:
            raise ValueError(f'loss_weights has unknown tasks {unknown}; '
                             f'known tasks are {names}')
        self.loss_weights = {**dict.fromkeys(names, 1.0),
                             **(loss_weights or {})}
        if router is not None and distiller is not None:
            # The distiller's teachers read the un-routed features; routing
            # them as well is not built yet.
            raise ValueError('model.router and model.distiller cannot be '
                             'combined yet: drop one of them from the config')
        train_cfg = dict(train_cfg or {})
        test_cfg = dict(test_cfg or {})
        self.backbone = MODELS.build(backbone)
        necks = neck if isinstance(neck, (list, tuple)) else [neck]
        self.neck = nn.Sequential(
            *[build_in_scope(MODELS, n) for n in necks])
        # the task parts, in order: det, seg, vqa, then model.tasks
        self.task_parts: Dict[str, BaseTask] = {}
        for name, head in zip(TASKS, (det_head, seg_head, language)):
            self._add_task(TASK_PARTS.build(dict(type=name, name=name,
                                                 head=head)),
                           train_cfg, test_cfg)
        self.router = None
        if router is not None:
            if not isinstance(getattr(self.language, 'vision_feature_layer',
                                      -2), int):
                # the router mixes the layers itself, into one layer's width
                raise ValueError(
                    'model.router chooses the ViT layers the language model '
                    'reads: language.vision_feature_layer must be one layer')
            self.router = build_router(
                router, self.backbone, self.language,
                tasks=TASKS + tuple(extra))
        for name, cfg in extra.items():
            cfg = dict(cfg)
            cfg.setdefault('type', name)
            self._add_task(TASK_PARTS.build(dict(cfg, name=name)),
                           train_cfg, test_cfg)
            if self.router is not None and name not in self.router.tasks:
                raise ValueError(
                    f'model.tasks.{name}: the task is not in '
                    f'model.router.tasks {self.router.tasks}; add it there '
                    'or leave router.tasks out')
        self.train_cfg, self.test_cfg = train_cfg, test_cfg
        self.text = None
        if text_cfg is not None:
            if self.language is None:
                raise ValueError('text_cfg needs a language branch')
            self.text = TextTaskIO(**text_cfg)
            if self.text.vqa_context is not None and self.det_head is None:
                raise ValueError(
                    'text_cfg.vqa_context puts the det head\'s boxes in '
                    'front of the questions: it needs model.det_head')
        self._build_extras(adapters, loss_balancer, distiller,
                           gradient_checkpointing)
        # FSDP (FSDPStrategy) refuses 0-dim parameters (FCOS' Scale factors)
        vectorize_scalar_params(self)

    def _add_task(self, part: BaseTask, train_cfg: dict,
                  test_cfg: dict) -> None:
        """Build the part serving ``part`` as the model attribute it names
        (None when the task is off)."""
        self.task_parts[part.name] = part
        setattr(self, part.attr, part.build_branch(self, train_cfg, test_cfg))
        part.check(self)

    def _build_extras(self, adapters, loss_balancer, distiller,
                      gradient_checkpointing) -> None:
        """Adapters, loss balancing, distillation, memory options."""
        from ..adapters import TaskAdapters, enable_gradient_checkpointing
        self.adapters = None
        if adapters is not None:
            self.adapters = TaskAdapters(**adapters)
            self.adapters.apply(self)
        self.loss_balancer = None if loss_balancer is None else MODELS.build(
            loss_balancer)
        self.distiller = None if distiller is None else MODELS.build(
            distiller)
        if gradient_checkpointing:
            enable_gradient_checkpointing(self)

    @property
    def tasks(self) -> Tuple[str, ...]:
        """The tasks this model has a branch for."""
        return tuple(t for t, part in self.task_parts.items()
                     if part.serving_part(self) is not None)

    def _parts_on(self) -> List[BaseTask]:
        return [p for p in self.task_parts.values()
                if p.serving_part(self) is not None]

    # ------------------------------------------------------------------
    # shared trunk
    # ------------------------------------------------------------------
    def extract_feat(self, inputs: Tensor) -> Tuple[Tuple[Tensor], ViTOutputs]:
        """Backbone once, then the neck: ``(pyramid, vit_outputs)``.

        With a router the neck runs per task (``_task_feats``) and the
        pyramid returned here is None.
        """
        vit = self.backbone(inputs)
        if self.router is not None:
            return None, vit
        return self.neck(vit.maps), vit

    def _weighted(self, task: str, losses: dict) -> dict:
        w = self.loss_weights[task]
        out = {}
        for k, v in losses.items():
            if 'loss' in k:
                v = [x * w for x in v] if isinstance(v, list) else v * w
            out[f'{task}.{k}'] = v
        return out

    # ------------------------------------------------------------------
    # modes
    # ------------------------------------------------------------------
    def forward(self,
                inputs: Tensor,
                data_samples: Optional[List[DetDataSample]] = None,
                mode: str = 'tensor'):
        """MMEngine's three modes: ``loss``, ``predict`` and ``tensor``."""
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        if mode == 'tensor':
            return self._forward(inputs)
        raise RuntimeError(f'Invalid mode "{mode}": use loss, predict or '
                           'tensor')

    def _forward(self, inputs: Tensor) -> dict:
        """Raw outputs of every branch without post-processing."""
        feats, vit = self.extract_feat(inputs)
        out = dict(neck=feats)
        batch = TaskBatch(inputs, feats, vit, None,
                          list(range(inputs.shape[0])), AuxOutputs(), {})
        for part in self._parts_on():
            out[part.output_key] = part.forward(self, batch)
        return out

    def loss(self, inputs: Tensor,
             data_samples: List[DetDataSample]) -> Dict[str, Tensor]:
        """Sum of the weighted losses of every task present in the batch."""
        feats, vit = self.extract_feat(inputs)
        losses: Dict[str, Tensor] = {}
        # the gate outputs every routing returns, for the auxiliary losses
        aux = AuxOutputs()
        # the heads' raw outputs, which the distiller reads
        head_outs: Dict[str, object] = {}
        batch = TaskBatch(inputs, feats, vit, data_samples, [], aux,
                          head_outs)
        for part in self._parts_on():
            idx = self._split(data_samples, part.name)
            if idx:
                losses.update(self._weighted(
                    part.name, part.loss(self, batch.at(idx))))
        if self.text is not None:
            def tokens_fn(rows: List[int]) -> Tensor:
                tokens, routed = self._image_tokens(vit, rows, data_samples)
                aux.extend(routed)
                return tokens

            # the text answers read the language branch's (routed) tokens
            losses.update(
                self.text.loss(self.language, vit.hidden_states,
                               data_samples, tokens_fn=tokens_fn))
        losses.update(self._aux_losses(aux))
        return self._extra_losses(inputs, data_samples, head_outs, losses)

    def _extra_losses(self, inputs: Tensor, data_samples: List[DetDataSample],
                      head_outs: Dict[str, object], losses: dict) -> dict:
        """Dense distillation, adapter L2 and loss balancing, when set."""
        if self.distiller is not None:
            dense = self.distiller.dense_loss(
                self, inputs, head_outs, self._split(data_samples, 'det'),
                self._split(data_samples, 'seg'))
            for key, value in dense.items():
                losses[key] = value * self.loss_weights[key.split('.')[0]]
        if self.adapters is not None:
            l2 = self.adapters.l2_loss(self)
            if l2 is not None:
                losses['adapters.loss_l2'] = l2
        if self.loss_balancer is not None:
            losses = self.loss_balancer(losses)
        return losses

    def init_weights(self) -> None:
        """MMEngine's init, then the adapters' own (mmdet / mmseg init_cfg
        would also re-initialise peft's LoRA convs)."""
        super().init_weights()
        if self.adapters is not None:
            self.adapters.reset_parameters(self)

    def parse_losses(self, losses: Dict[str, Tensor]) -> tuple:
        """MMEngine's sum, with the per-task totals attached to the loss.

        ``loss.task_losses`` is what GradNorm / PCGrad optimiser wrappers
        read; a tensor attribute reaches them through ``update_params`` in
        both the plain and the DDP ``train_step``.
        """
        from ..losses import group_task_losses
        loss, log_vars = super().parse_losses(losses)
        loss.task_losses = group_task_losses(losses)
        return loss, log_vars

    def predict(self, inputs: Tensor,
                data_samples: List[DetDataSample]) -> List[DetDataSample]:
        """Fill ``pred_instances``, ``pred_sem_seg`` and the answers to the
        samples' questions and text instructions (:meth:`respond`)."""
        return self.respond(inputs, data_samples)

    @torch.no_grad()
    def respond(self,
                inputs: Tensor,
                data_samples: List[DetDataSample],
                requests: Optional[Sequence[List[Request]]] = None,
                generation: Optional[dict] = None,
                max_new_tokens: Optional[int] = None
                ) -> List[DetDataSample]:
        """The one path from images and instructions to answers.

        The backbone runs once; the heads run on the samples whose
        ``tasks`` ask for them and on those whose requests need their
        results in a grounded context; the language branch answers every
        request (``responder.answer_requests``). Boxes and masks are in
        original-image pixels, as mmdet's ``CocoMetric`` and mmseg's
        ``IoUMetric`` expect; the answers are in ``sample.responses`` (and
        the fields the metrics read).

        Args:
            inputs (Tensor): The preprocessed batch.
            data_samples (list[DetDataSample]): One per image.
            requests (list[list[Request]], optional): Per image; default
                the samples' own questions and text instructions
                (``responder.dataset_requests``).
            generation (dict, optional): Temperature, top_p, a streamer,
                stopping criteria (``LlavaLanguageBranch.predict``).
            max_new_tokens (int, optional): Budget of every answer.
        """
        from_dataset = requests is None
        if from_dataset:
            requests = [dataset_requests(s) for s in data_samples]
        feats, vit = self.extract_feat(inputs)
        grounded = self.text is not None and self.text.mode == 'grounded'
        batch = TaskBatch(inputs, feats, vit, data_samples, [],
                          AuxOutputs(), {})
        for part in self._parts_on():
            if not part.predicts:
                continue
            idx = [
                i for i, (s, reqs) in enumerate(zip(data_samples, requests))
                if part.selects(s, reqs, grounded) or
                self._grounds_questions(part.name, reqs)
            ]
            if idx:
                part.predict(self, batch.at(idx))
        scored = conversation_rows(data_samples) if from_dataset else []
        # one projection for the answers and the scored conversations
        tokens = BatchImageTokens(
            self, vit, data_samples,
            [i for i, reqs in enumerate(requests) if reqs] +
            [i for i, _ in scored])
        responses = answer_requests(self, vit, data_samples, requests,
                                    generation, max_new_tokens, tokens)
        store_responses(data_samples, responses)
        if scored:  # the held-out conversations' answer-token loss
            score_conversations(self, data_samples, tokens)
        return data_samples

    def _grounds_questions(self, task: str, requests) -> bool:
        """Whether the det head must run for these requests' questions
        (``text_cfg.vqa_context``: a new conversation's question reads its
        boxes)."""
        return task == 'det' and self.text is not None and \
            self.text.vqa_context is not None and any(
                not r.wants_blocks and not r.history for r in requests)

    def _predict_head(self, task: str, feats, vit: ViTOutputs,
                      idx: List[int],
                      data_samples: List[DetDataSample]) -> None:
        """The predictions of ``task`` for the samples ``idx``
        (``pred_instances`` for det, ``pred_sem_seg`` for seg, ...)."""
        part = self.task_parts.get(task)
        if part is None or part.serving_part(self) is None:
            return
        part.predict(self, TaskBatch(None, feats, vit, data_samples, idx,
                                     AuxOutputs(), {}))
