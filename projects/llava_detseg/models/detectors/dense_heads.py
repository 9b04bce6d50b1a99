"""The dense heads' losses and predictions through mmdet's and mmseg's own
steps: the loss keeps the heads' raw outputs (the distiller's student side
reads them, no second head pass), the semantic map is post-processed by
mmseg's ``BaseSegmentor.postprocess_result``."""
from typing import Any, Dict, List, Sequence, Tuple

from mmdet.models.utils import unpack_gt_instances
from mmdet.structures import DetDataSample
from mmengine.structures import PixelData
from mmseg.models.segmentors import BaseSegmentor
from mmseg.structures import SegDataSample
from torch import Tensor, nn


def head_loss(task: str, head: nn.Module, x: Tuple[Tensor, ...],
              samples: Sequence[DetDataSample]) -> Tuple[Dict, Any]:
    """``head.loss(x, samples)`` of mmdet's dense heads (``det``) or mmseg's
    decode heads (``seg``), split as they do it (forward, then
    ``loss_by_feat``) so that the raw outputs come back with the losses."""
    outs = head(x)
    if task == 'det':
        gts, gts_ignore, metas = unpack_gt_instances(list(samples))
        return head.loss_by_feat(*outs, gts, metas, gts_ignore), outs
    return head.loss_by_feat(outs, list(samples)), outs


class _Postprocess:
    """What ``BaseSegmentor.postprocess_result`` reads of its segmentor."""

    def __init__(self, head: nn.Module) -> None:
        self.decode_head = head
        self.align_corners = head.align_corners


def seg_predictions(head: nn.Module, x: Tuple[Tensor, ...],
                    samples: Sequence[DetDataSample]) -> List[PixelData]:
    """Per sample, the arg-max label map in original-image pixels: mmseg's
    ``predict_by_feat`` (logits upsampled to the padded input) and
    ``postprocess_result`` (padding cropped, flip undone, resized to the
    original image). mmdet pads at the bottom and right."""
    metas = [dict(img_shape=s.img_shape, pad_shape=s.batch_input_shape)
             for s in samples]
    logits = head.predict_by_feat(head(x), metas)
    segs = []
    for s in samples:
        pad_h, pad_w = s.batch_input_shape
        h, w = s.img_shape[:2]
        segs.append(SegDataSample(metainfo=dict(
            ori_shape=s.ori_shape[:2],
            padding_size=[0, pad_w - w, 0, pad_h - h],
            flip=s.get('flip', False),
            flip_direction=s.get('flip_direction'))))
    BaseSegmentor.postprocess_result(_Postprocess(head), logits, segs)
    return [PixelData(data=s.pred_sem_seg.data) for s in segs]
