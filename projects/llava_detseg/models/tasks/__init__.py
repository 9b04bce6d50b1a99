# the import order is the registration order: det, seg, vqa, cls, itc
from .base import BaseTask, TaskBatch, pool_tokens, sample_tasks
from .dense import DenseTask, DetTask, SegTask
from .language import VqaTask
from .image_level import (ClsTask, ImageLevelTask, ItcTask,  # noqa: I001
                          caption_features)

__all__ = [
    'BaseTask', 'TaskBatch', 'pool_tokens', 'sample_tasks', 'DenseTask',
    'DetTask', 'SegTask', 'VqaTask', 'ImageLevelTask', 'ClsTask', 'ItcTask',
    'caption_features'
]
