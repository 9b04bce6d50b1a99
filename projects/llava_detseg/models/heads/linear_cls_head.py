"""A linear classification head, as mmpretrain's ``LinearClsHead``."""
from typing import Dict, List, Sequence

import torch
from mmdet.structures import DetDataSample
from mmdet.utils import ConfigType, OptConfigType
from mmengine.model import BaseModule
from torch import Tensor, nn

from llava_detseg.registry import MODELS
from ..utils import build_in_scope


@MODELS.register_module()
class LinearClsHead(BaseModule):
    """One linear layer from a pooled image feature to class scores.

    mmpretrain's ``LinearClsHead`` (``mmpretrain/models/heads/
    linear_head.py``, v1.2.0) written here because mmpretrain does not
    import with this project's toolchain (its package imports torchvision,
    whose registry wheel fails against the CPU torch: ``docs``/TOOLCHAIN).
    Same arguments, same initialisation (normal, std 0.01), same loss key
    (``loss``) and prediction fields (``pred_score`` softmax, ``pred_label``)
    as mmpretrain's ``ClsHead`` and ``DataSample`` use, so the
    ``Accuracy`` / ``ConfusionMatrix`` metrics read them unchanged.

    Args:
        num_classes (int): Number of classes.
        in_channels (int): Width of the input feature (the task fills in the
            backbone's width when left out).
        loss (dict): Classification loss, default mmdet's cross-entropy.
        init_cfg (dict, optional): Init config.
    """

    def __init__(self,
                 num_classes: int,
                 in_channels: int,
                 loss: ConfigType = dict(
                     type='mmdet.CrossEntropyLoss', loss_weight=1.0),
                 init_cfg: OptConfigType = dict(
                     type='Normal', layer='Linear', std=0.01)) -> None:
        super().__init__(init_cfg=init_cfg)
        if num_classes <= 0:
            raise ValueError(f'LinearClsHead: num_classes={num_classes} '
                             'must be positive')
        self.num_classes = num_classes
        self.in_channels = in_channels
        self.fc = nn.Linear(in_channels, num_classes)
        self.loss_module = build_in_scope(MODELS, loss)

    def forward(self, feats: Tensor) -> Tensor:
        """(B, C) features to (B, num_classes) logits."""
        return self.fc(feats.to(self.fc.weight.dtype))

    @staticmethod
    def _targets(samples: Sequence[DetDataSample], device) -> Tensor:
        labels = []
        for s in samples:
            label = s.get('gt_label')
            if label is None:
                name = s.metainfo.get('img_path') or s.metainfo.get('img_id')
                raise ValueError(
                    f'task cls: sample {name} has no gt_label (does its '
                    'dataset give image labels?)')
            labels.append(torch.as_tensor(label).reshape(-1)[:1])
        return torch.cat(labels).long().to(device)

    def loss(self, feats: Tensor,
             samples: Sequence[DetDataSample]) -> Dict[str, Tensor]:
        """Cross-entropy of the samples' ``gt_label``."""
        logits = self(feats)
        target = self._targets(samples, logits.device)
        return dict(loss=self.loss_module(logits.float(), target))

    def predict(self, feats: Tensor,
                samples: Sequence[DetDataSample]) -> List[DetDataSample]:
        """``pred_score`` (C,) softmax and ``pred_label`` (1,) per sample."""
        scores = self(feats).float().softmax(-1)
        for s, score in zip(samples, scores):
            s.pred_score = score.detach().cpu()
            s.pred_label = score.argmax().reshape(1).cpu()
        return list(samples)
