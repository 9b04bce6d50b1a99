"""COCO 2017 with its 80 classes as multi-task samples."""
from mmdet.datasets import CocoDataset

from llava_detseg.registry import DATASETS
from .coco_format import CocoFormatMultiTaskDataset


@DATASETS.register_module()
class Coco2017MultiTaskDataset(CocoFormatMultiTaskDataset):
    """``CocoFormatMultiTaskDataset`` with mmdet's COCO metainfo (80 classes).

    The semantic classes (for maps written by
    ``tools/dataset_converters/coco_semantic.py``) are ``background`` then
    the 80 classes. Conversations from LLaVA-Instruct-150K join by file
    name (its images are COCO train2017).
    """

    METAINFO = dict(CocoDataset.METAINFO, seg_classes=None)
