"""The top-level multi-task model: one backbone pass, three branches."""
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from mmdet.structures import DetDataSample
from mmdet.utils import ConfigType, OptConfigType
from mmengine.model import BaseModel
from mmengine.structures import PixelData
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
from ..utils import build_in_scope
from ..utils.scalar_params import vectorize_scalar_params


@MODELS.register_module()
class LlavaDetSeg(BaseModel):
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

    def _task_feats(self, task: str, feats: Optional[Tuple[Tensor]],
                    vit: ViTOutputs, idx: List[int],
                    samples: Optional[List[DetDataSample]]
                    ) -> Tuple[Tensor, ...]:
        """The neck's pyramid for the samples ``idx`` of ``task``."""
        n = vit.maps[0].shape[0]
        if self.router is None:
            return self._select(feats, idx, n)
        hidden = self._select(vit.hidden_states, idx, n)
        tokens, _ = self.router(
            task, hidden, self._instruction(task, idx, samples, hidden[0]))
        return self.neck(
            self.router.to_maps(tokens, tuple(vit.maps[0].shape[-2:])))

    def _instruction(self, task: str, idx: List[int],
                     samples: Optional[List[DetDataSample]],
                     like: Tensor) -> Optional[Tensor]:
        """(len(idx), D) instruction embeddings for the router, or None."""
        if self.language is None or not self.router.instruction_dims:
            return None
        if samples is None:
            texts = [self.router.instructions[task]] * len(idx)
        else:
            texts = self.router.instruction_texts(
                task, [samples[i] for i in idx])
        return self.router.embed_instructions(self.language, texts,
                                              like.device)

    def _vqa_tokens(self, vit: ViTOutputs, idx: List[int],
                    samples: Optional[List[DetDataSample]]) -> Tensor:
        """(len(idx), N, D) projected image tokens for the language model:
        its questions and its <DET>/<SEG> text answers alike (with a router,
        through its ``vqa`` path and a routed projector's layer weights)."""
        hidden = self._select(vit.hidden_states, idx, vit.maps[0].shape[0])
        if self.router is None:
            return self.language.image_tokens(hidden)
        tokens, weights = self.router(
            'vqa', hidden, self._instruction('vqa', idx, samples, hidden[0]))
        return self.language.project(tokens[0], weights)

    def _aux_losses(self) -> Dict[str, Tensor]:
        """The router's and a routed projector's balance / z-losses."""
        out = {}
        if self.router is not None:
            out.update({f'router.{k}': v
                        for k, v in self.router.pop_losses().items()})
        proj = self.language.projector if self.language is not None else None
        if hasattr(proj, 'pop_losses'):
            out.update({f'projector.{k}': v
                        for k, v in proj.pop_losses().items()})
        return out

    @staticmethod
    def _split(samples: Sequence[DetDataSample], task: str) -> List[int]:
        return [
            i for i, s in enumerate(samples) if task in s.metainfo.get(
                'tasks', TASKS)
        ]

    @staticmethod
    def _select(feats: Sequence[Tensor], idx: List[int],
                total: int) -> Tuple[Tensor, ...]:
        if len(idx) == total:
            return tuple(feats)
        index = torch.as_tensor(idx, device=feats[0].device)
        return tuple(f.index_select(0, index) for f in feats)

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
        n = len(data_samples)
        losses: Dict[str, Tensor] = {}
        idx = self._split(data_samples, 'det')
        if self.det_head is not None and idx:
            losses.update(
                self._weighted(
                    'det',
                    self.det_head.loss(
                        self._task_feats('det', feats, vit, idx,
                                         data_samples),
                        [data_samples[i] for i in idx])))
        idx = self._split(data_samples, 'seg')
        if self.seg_head is not None and idx:
            losses.update(
                self._weighted(
                    'seg',
                    self.seg_head.loss(
                        self._task_feats('seg', feats, vit, idx,
                                         data_samples),
                        [data_samples[i] for i in idx],
                        self.train_cfg.get('seg'))))
        idx = self._split(data_samples, 'vqa')
        if self.language is not None and idx:
            convs, owner = [], []
            for row, i in enumerate(idx):
                for conv in data_samples[i].metainfo.get('conversations', []):
                    convs.append(conv)
                    owner.append(row)
            if convs and self.router is not None:
                hidden = self._select(vit.hidden_states, idx, n)
                losses.update(
                    self._weighted(
                        'vqa',
                        self.router.vqa_loss(
                            self.language, hidden,
                            self._instruction('vqa', idx, data_samples,
                                              hidden[0]), convs, owner)))
            elif convs:
                tokens = self.language.image_tokens(
                    self._select(vit.hidden_states, idx, n))
                if self.distiller is not None:
                    vqa = self.distiller.vqa_loss(
                        self, self._select([inputs], idx, n)[0], tokens,
                        convs, owner)
                else:
                    vqa = self.language.loss(tokens, convs, owner)
                losses.update(self._weighted('vqa', vqa))
        if self.text is not None:
            # the text answers read the language branch's (routed) tokens
            losses.update(
                self.text.loss(
                    self.language, vit.hidden_states, data_samples,
                    tokens_fn=lambda rows: self._vqa_tokens(
                        vit, rows, data_samples)))
        losses.update(self._aux_losses())
        return self._extra_losses(inputs, data_samples, feats, losses)

    def _extra_losses(self, inputs: Tensor, data_samples: List[DetDataSample],
                      feats: Tuple[Tensor], losses: dict) -> dict:
        """Dense distillation, adapter L2 and loss balancing, when set."""
        if self.distiller is not None:
            dense = self.distiller.dense_loss(
                self, inputs, feats, self._split(data_samples, 'det'),
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
        if task == 'det':
            results = head.predict(x, [data_samples[i] for i in idx],
                                   rescale=True)
            for i, res in zip(idx, results):
                data_samples[i].pred_instances = res
            return
        logits = head(x)
        for row, i in enumerate(idx):
            data_samples[i].pred_sem_seg = self._seg_to_original(
                logits[row:row + 1], data_samples[i])

    @staticmethod
    def _seg_to_original(logits: Tensor, sample: DetDataSample) -> PixelData:
        """Upsample to the padded input, crop the padding, resize to the
        original image and take the arg-max label."""
        pad_h, pad_w = sample.batch_input_shape
        h, w = sample.img_shape[:2]
        logits = F.interpolate(
            logits, size=(pad_h, pad_w), mode='bilinear', align_corners=False)
        logits = logits[..., :h, :w]
        if sample.get('flip', False):
            dims = dict(horizontal=(3, ), vertical=(2, ), diagonal=(2, 3))
            logits = logits.flip(dims[sample.flip_direction])
        logits = F.interpolate(
            logits, size=sample.ori_shape[:2], mode='bilinear',
            align_corners=False)
        return PixelData(data=logits.argmax(dim=1))
