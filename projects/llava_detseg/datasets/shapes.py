"""The generated shapes dataset (the embedded default)."""
from llava_detseg.registry import DATASETS
from .coco_format import CocoFormatMultiTaskDataset


@DATASETS.register_module()
class ShapesDataset(CocoFormatMultiTaskDataset):
    """Circles, squares and triangles in four colours.

    Written by ``tools/dataset_converters/generate_shapes.py``. Semantic maps
    hold 0 for background and ``class index + 1`` for each class.
    """

    METAINFO = dict(
        classes=('circle', 'square', 'triangle'),
        seg_classes=('background', 'circle', 'square', 'triangle'),
        palette=[(220, 20, 60), (0, 128, 0), (0, 0, 192)])
