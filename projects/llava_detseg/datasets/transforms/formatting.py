"""Packing of multi-task samples."""
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
    """

    def __init__(self,
                 meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                            'scale_factor', 'flip', 'flip_direction', 'tasks',
                            'conversations', 'text_conversations',
                            'benchmark', 'vqa_questions')) -> None:
        super().__init__(meta_keys=meta_keys)

    def transform(self, results: dict) -> dict:
        packed = super().transform(results)
        sample = packed['data_samples']
        if 'gt_sem_seg' in sample and 'sem_seg' in sample.gt_sem_seg:
            seg = sample.gt_sem_seg
            # int64 labels, as mmseg's PackSegInputs and its losses expect
            sample.gt_sem_seg = PixelData(
                data=seg.sem_seg.long(), metainfo=seg.metainfo)
        return packed
