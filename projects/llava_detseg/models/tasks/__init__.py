# the import order is the registration order: det, seg, vqa
from .base import BaseTask, TaskBatch, pool_tokens, sample_tasks
from .dense import DenseTask, DetTask, SegTask
from .language import VqaTask

__all__ = [
    'BaseTask', 'TaskBatch', 'pool_tokens', 'sample_tasks', 'DenseTask',
    'DetTask', 'SegTask', 'VqaTask'
]
