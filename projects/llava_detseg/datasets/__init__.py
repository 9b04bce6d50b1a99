from .ade20k import ADE20KSegDataset
from .benchmarks import *  # noqa: F401,F403
from .classification import *  # noqa: F401,F403
from .coco2017 import Coco2017MultiTaskDataset
from .coco_format import CocoFormatMultiTaskDataset
from .deprecated import *  # noqa: F401,F403
from .errors import DataError, error_summary
from .llava_instruct import LlavaInstructDataset
from .mixture import MultiTaskConcatDataset
from .samplers import MixtureSampler
from .shapes import ShapesDataset
from .transforms import *  # noqa: F401,F403
from .worker_init import epoch_worker_init_fn

__all__ = [
    'DataError', 'error_summary', 'CocoFormatMultiTaskDataset',
    'ShapesDataset', 'ADE20KSegDataset', 'Coco2017MultiTaskDataset',
    'LlavaInstructDataset',
    'MultiTaskConcatDataset',
    'MixtureSampler', 'epoch_worker_init_fn'
]
