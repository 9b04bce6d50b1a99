from .errors import DataError, error_summary
from .multitask_coco import MultiTaskCocoDataset
from .shapes import ShapesDataset
from .transforms import *  # noqa: F401,F403
from .worker_init import epoch_worker_init_fn

__all__ = [
    'DataError', 'error_summary', 'MultiTaskCocoDataset', 'ShapesDataset',
    'epoch_worker_init_fn'
]
