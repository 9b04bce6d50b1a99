"""Packing of multi-task samples."""
import numpy as np
import torch
from mmdet.datasets.transforms import PackDetInputs
from mmengine.structures import PixelData

from llava_detseg.registry import TRANSFORMS


@TRANSFORMS.register_module()
class PackMultiTaskInputs(PackDetInputs):
    """mmdet's ``PackDetInputs`` with the semantic map in mmseg's form.

    mmdet packs ``PixelData(sem_seg=...)``; mmseg's decode heads and
    ``IoUMetric`` read ``PixelData(data=...)``. The conversations and tasks
    travel as metainfo (they are in the default ``meta_keys``), as do the
    ``text_conversations`` of ``GenerateTextInstructions``, and a
    benchmark's name and questions (``datasets/benchmarks``).

    Image-level samples (``datasets/classification``) add an image's class
    as ``gt_label``, packed as mmpretrain's ``DataSample`` holds it (an
    ``int64`` tensor of shape ``(1, )``, which ``Accuracy`` and
    ``ConfusionMatrix`` read), and its captions as the ``captions``
    metainfo (a list of str, which ``ImageTextRetrievalRecall`` pairs with
    the predicted text embeddings).
    """

    def __init__(self,
                 meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                            'scale_factor', 'flip', 'flip_direction', 'tasks',
                            'conversations', 'text_conversations',
                            'benchmark', 'vqa_questions', 'captions')
                 ) -> None:
        super().__init__(meta_keys=meta_keys)

    def transform(self, results: dict) -> dict:
        packed = super().transform(results)
        sample = packed['data_samples']
        if 'gt_sem_seg' in sample and 'sem_seg' in sample.gt_sem_seg:
            seg = sample.gt_sem_seg
            # int64 labels, as mmseg's PackSegInputs and its losses expect
            sample.gt_sem_seg = PixelData(
                data=seg.sem_seg.long(), metainfo=seg.metainfo)
        if 'gt_label' in results:
            sample.gt_label = torch.as_tensor(
                np.asarray(results['gt_label'], np.int64).reshape(-1))
        return packed
