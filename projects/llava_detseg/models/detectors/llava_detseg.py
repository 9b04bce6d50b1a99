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
from ..language.llava_branch import first_question
from llava_detseg.tasks import TASKS
from ..routers import build_router
from ..utils import build_in_scope


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
        data_preprocessor (dict, optional): e.g.
            ``MultiTaskDataPreprocessor``.
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
                 data_preprocessor: OptConfigType = None,
                 router: OptConfigType = None,
                 init_cfg: OptConfigType = None) -> None:
        super().__init__(
            data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        unknown = set(loss_weights or {}) - set(TASKS)
        if unknown:
            raise ValueError(f'loss_weights has unknown tasks {unknown}; '
                             f'known tasks are {TASKS}')
        self.loss_weights = {**dict.fromkeys(TASKS, 1.0), **(loss_weights or {})}
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
        """(len(idx), N, D) projected image tokens for the language model."""
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
                losses.update(
                    self._weighted('vqa',
                                   self.language.loss(tokens, convs, owner)))
        losses.update(self._aux_losses())
        return losses

    def predict(self, inputs: Tensor,
                data_samples: List[DetDataSample]) -> List[DetDataSample]:
        """Fill ``pred_instances``, ``pred_sem_seg`` and ``pred_answers``.

        Boxes and masks are rescaled to the original image, as mmdet's
        ``CocoMetric`` and mmseg's ``IoUMetric`` expect.
        """
        feats, vit = self.extract_feat(inputs)
        n = len(data_samples)
        idx = self._split(data_samples, 'det')
        if self.det_head is not None and idx:
            results = self.det_head.predict(
                self._task_feats('det', feats, vit, idx, data_samples),
                [data_samples[i] for i in idx],
                rescale=True)
            for i, res in zip(idx, results):
                data_samples[i].pred_instances = res
        idx = self._split(data_samples, 'seg')
        if self.seg_head is not None and idx:
            logits = self.seg_head(
                self._task_feats('seg', feats, vit, idx, data_samples))
            for row, i in enumerate(idx):
                data_samples[i].pred_sem_seg = self._seg_to_original(
                    logits[row:row + 1], data_samples[i])
        idx = self._split(data_samples, 'vqa')
        if self.language is not None and idx:
            self._predict_answers(vit, idx, data_samples)
        return data_samples

    def _predict_answers(self, vit: ViTOutputs, idx: List[int],
                         data_samples: List[DetDataSample]) -> None:
        tokens = self._vqa_tokens(vit, idx, data_samples)
        questions, refs, owner = [], [], []
        for row, i in enumerate(idx):
            for conv in data_samples[i].metainfo.get('conversations', []):
                q, a = first_question(conv)
                questions.append(q)
                refs.append(a)
                owner.append(row)
        answers = self.language.predict(tokens, questions, owner)
        for row, i in enumerate(idx):
            sample = data_samples[i]
            sample.questions, sample.pred_answers, sample.gt_answers = [], [], []
        for q, a, ref, row in zip(questions, answers, refs, owner):
            sample = data_samples[idx[row]]
            sample.questions.append(q)
            sample.pred_answers.append(a)
            sample.gt_answers.append(ref)

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
