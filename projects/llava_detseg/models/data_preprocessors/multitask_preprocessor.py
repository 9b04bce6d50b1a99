"""Data preprocessor for samples that carry boxes, masks and conversations."""
from typing import Sequence

import torch.nn.functional as F
from mmdet.models.data_preprocessors import DetDataPreprocessor
from mmengine.structures import PixelData

from llava_detseg.registry import MODELS


@MODELS.register_module()
class MultiTaskDataPreprocessor(DetDataPreprocessor):
    """mmdet's ``DetDataPreprocessor`` that pads ``gt_sem_seg.data``.

    mmdet stores semantic maps as ``PixelData(sem_seg=...)``; mmseg's decode
    heads and ``IoUMetric`` read ``PixelData(data=...)``. This project packs
    the mmseg form (see ``PackMultiTaskInputs``), so only the padding needs
    to look at the other field name.
    """

    def pad_gt_sem_seg(self, batch_data_samples: Sequence) -> None:
        """Pad every ``gt_sem_seg.data`` to the batch input shape."""
        for sample in batch_data_samples:
            if 'gt_sem_seg' not in sample:
                continue
            seg = sample.gt_sem_seg.data
            h, w = seg.shape[-2:]
            pad_h, pad_w = sample.batch_input_shape
            padded = F.pad(
                seg, pad=(0, max(pad_w - w, 0), 0, max(pad_h - h, 0)),
                mode='constant', value=self.seg_pad_value)
            # a new PixelData: it refuses a field of another size than its own
            sample.gt_sem_seg = PixelData(
                data=padded, metainfo=sample.gt_sem_seg.metainfo)
