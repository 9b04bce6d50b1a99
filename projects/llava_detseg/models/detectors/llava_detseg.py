"""The top-level multi-task model: one backbone pass, three branches."""
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
from llava_detseg.tasks import TASKS
from ..routers import build_router
from ..routers.moe import AuxOutputs
from .dense_heads import head_loss, seg_predictions
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
                 init_cfg: OptConfigType = None) -> None:
        super().__init__(
            data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        unknown = set(loss_weights or {}) - set(TASKS)
        if unknown:
            raise ValueError(f'loss_weights has unknown tasks {unknown}; '
                             f'known tasks are {TASKS}')
        self.loss_weights = {**dict.fromkeys(TASKS, 1.0), **(loss_weights or {})}
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
        self.det_head = self.seg_head = self.language = None
        if det_head is not None:
            det_head = dict(det_head)
            det_head.update(
                train_cfg=train_cfg.get('det'), test_cfg=test_cfg.get('det'))
            self.det_head = build_in_scope(MODELS, det_head)
        if seg_head is not None:
            self.seg_head = build_in_scope(MODELS, seg_head)
        if language is not None:
            self.language = MODELS.build(language)
            if self.language.vision_hidden_size != self.backbone.embed_dims:
                raise ValueError(
                    'language branch expects vision features of width '
                    f'{self.language.vision_hidden_size} but the backbone '
                    f'gives {self.backbone.embed_dims}; load both from '
                    'matching checkpoints')
        self.router = None
        if router is not None:
            self.router = build_router(router, self.backbone, self.language)
        self.train_cfg, self.test_cfg = train_cfg, test_cfg
        self.text = None
        if text_cfg is not None:
            if self.language is None:
                raise ValueError('text_cfg needs a language branch')
            self.text = TextTaskIO(**text_cfg)
        self._build_extras(adapters, loss_balancer, distiller,
                           gradient_checkpointing)
        # FSDP (FSDPStrategy) refuses 0-dim parameters (FCOS' Scale factors)
        vectorize_scalar_params(self)

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
        heads = dict(det=self.det_head, seg=self.seg_head, vqa=self.language)
        return tuple(t for t in TASKS if heads[t] is not None)

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
        every = list(range(inputs.shape[0]))
        if self.det_head is not None:
            out['det'] = self.det_head(
                self._task_feats('det', feats, vit, every, None))
        if self.seg_head is not None:
            out['seg'] = self.seg_head(
                self._task_feats('seg', feats, vit, every, None))
        if self.language is not None:
            out['image_tokens'] = self._vqa_tokens(vit, every, None)
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
        for task, head in (('det', self.det_head), ('seg', self.seg_head)):
            idx = self._split(data_samples, task)
            if head is None or not idx:
                continue
            x, routed = self._routed_feats(task, feats, vit, idx,
                                           data_samples)
            aux += routed
            task_losses, head_outs[task] = head_loss(
                task, head, x, [data_samples[i] for i in idx])
            losses.update(self._weighted(task, task_losses))
        idx = self._split(data_samples, 'vqa')
        if self.language is not None and idx:
            losses.update(self._vqa_loss(inputs, vit, data_samples, idx, aux))
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

    def _vqa_loss(self, inputs: Tensor, vit: ViTOutputs,
                  data_samples: List[DetDataSample], idx: List[int],
                  aux: AuxOutputs) -> Dict[str, Tensor]:
        """The weighted answer losses of the samples ``idx`` (routed, or
        distilled, or plain); their routings' gate outputs go to ``aux``."""
        convs, owner = [], []
        for row, i in enumerate(idx):
            for conv in data_samples[i].metainfo.get('conversations', []):
                convs.append(conv)
                owner.append(row)
        if not convs:
            return {}
        n = len(data_samples)
        hidden = self._select(vit.hidden_states, idx, n)
        if self.router is not None:
            vqa, routed = self.router.vqa_loss(
                self.language, hidden,
                self._instruction('vqa', idx, data_samples, hidden[0]),
                convs, owner)
        else:
            tokens, routed = self.language.image_tokens(hidden,
                                                        return_aux=True)
            if self.distiller is not None:
                vqa = self.distiller.vqa_loss(
                    self, self._select([inputs], idx, n)[0], tokens, convs,
                    owner)
            else:
                vqa = self.language.loss(tokens, convs, owner)
        aux += routed
        return self._weighted('vqa', vqa)

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
        for task in ('det', 'seg'):
            idx = [
                i for i, (s, reqs) in enumerate(zip(data_samples, requests))
                if task in s.metainfo.get('tasks', TASKS) or (
                    grounded and any(getattr(r, task) is not None
                                     for r in reqs))
            ]
            if idx:
                self._predict_head(task, feats, vit, idx, data_samples)
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

    def _predict_head(self, task: str, feats, vit: ViTOutputs,
                      idx: List[int],
                      data_samples: List[DetDataSample]) -> None:
        """``pred_instances`` (det) or ``pred_sem_seg`` (seg) of ``idx``."""
        head = self.det_head if task == 'det' else self.seg_head
        if head is None:
            return
        x = self._task_feats(task, feats, vit, idx, data_samples)
        samples = [data_samples[i] for i in idx]
        if task == 'det':
            results = head.predict(x, samples, rescale=True)
            for sample, res in zip(samples, results):
                sample.pred_instances = res
            return
        for sample, seg in zip(samples, seg_predictions(head, x, samples)):
            sample.pred_sem_seg = seg
