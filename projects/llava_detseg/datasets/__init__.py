from .errors import DataError
from .multitask_coco import MultiTaskCocoDataset
from .shapes import ShapesDataset
from .transforms import *  # noqa: F401,F403

__all__ = ['DataError', 'MultiTaskCocoDataset', 'ShapesDataset']
