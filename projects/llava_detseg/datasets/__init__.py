from .errors import DataError
from .multitask_coco import MultiTaskCocoDataset
from .shapes import ShapesDataset
from .transforms import *  # noqa: F401,F403
from .worker_init import epoch_worker_init_fn

__all__ = [
    'DataError', 'MultiTaskCocoDataset', 'ShapesDataset',
    'epoch_worker_init_fn'
]
