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
from ..language.text_tasks import TextTaskIO
from llava_detseg.tasks import TASKS
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
        text_cfg (dict, optional): Answer the samples' ``text_conversations``
            with ``<DET>``/``<SEG>`` blocks: ``TextTaskIO`` arguments
            (``classes``, ``mode='grounded'|'generative'``, ...). ``None``
            (default): no text answers.
        data_preprocessor (dict, optional): e.g.
            ``MultiTaskDataPreprocessor``.
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
        self.train_cfg, self.test_cfg = train_cfg, test_cfg
        self.text = None
        if text_cfg is not None:
            if self.language is None:
                raise ValueError('text_cfg needs a language branch')
            self.text = TextTaskIO(**text_cfg)

    @property
    def tasks(self) -> Tuple[str, ...]:
        """The tasks this model has a branch for."""
        heads = dict(det=self.det_head, seg=self.seg_head, vqa=self.language)
        return tuple(t for t in TASKS if heads[t] is not None)

    # ------------------------------------------------------------------
    # shared trunk
    # ------------------------------------------------------------------
    def extract_feat(self, inputs: Tensor) -> Tuple[Tuple[Tensor], ViTOutputs]:
        """Backbone once, then the neck: ``(pyramid, vit_outputs)``."""
        vit = self.backbone(inputs)
        return self.neck(vit.maps), vit

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
        if self.det_head is not None:
            out['det'] = self.det_head(feats)
        if self.seg_head is not None:
            out['seg'] = self.seg_head(feats)
        if self.language is not None:
            out['image_tokens'] = self.language.image_tokens(vit.hidden_states)
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
                        self._select(feats, idx, n),
                        [data_samples[i] for i in idx])))
        idx = self._split(data_samples, 'seg')
        if self.seg_head is not None and idx:
            losses.update(
                self._weighted(
                    'seg',
                    self.seg_head.loss(
                        self._select(feats, idx, n),
                        [data_samples[i] for i in idx],
                        self.train_cfg.get('seg'))))
        idx = self._split(data_samples, 'vqa')
        if self.language is not None and idx:
            hidden = self._select(vit.hidden_states, idx, n)
            tokens = self.language.image_tokens(hidden)
            convs, owner = [], []
            for row, i in enumerate(idx):
                for conv in data_samples[i].metainfo.get('conversations', []):
                    convs.append(conv)
                    owner.append(row)
            if convs:
                losses.update(
                    self._weighted('vqa',
                                   self.language.loss(tokens, convs, owner)))
        if self.text is not None:
            losses.update(
                self.text.loss(self.language, vit.hidden_states,
                               data_samples))
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
                self._select(feats, idx, n), [data_samples[i] for i in idx],
                rescale=True)
            for i, res in zip(idx, results):
                data_samples[i].pred_instances = res
        idx = self._split(data_samples, 'seg')
        if self.seg_head is not None and idx:
            logits = self.seg_head(self._select(feats, idx, n))
            for row, i in enumerate(idx):
                data_samples[i].pred_sem_seg = self._seg_to_original(
                    logits[row:row + 1], data_samples[i])
        idx = self._split(data_samples, 'vqa')
        if self.language is not None and idx:
            self._predict_answers(vit, idx, data_samples)
        if self.text is not None:  # after the heads: grounded mode reads them
            self.text.predict(self.language, vit.hidden_states, data_samples)
        return data_samples

    def _predict_answers(self, vit: ViTOutputs, idx: List[int],
                         data_samples: List[DetDataSample]) -> None:
        tokens = self.language.image_tokens(
            self._select(vit.hidden_states, idx, len(data_samples)))
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
