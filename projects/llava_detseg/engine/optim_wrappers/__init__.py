from .autocast_optim_wrapper import AutocastOptimWrapper
from .multi_task_optim_wrapper import (GradNormOptimWrapper,
                                       MultiTaskOptimWrapper,
                                       PCGradOptimWrapper)

__all__ = [
    'AutocastOptimWrapper', 'GradNormOptimWrapper', 'MultiTaskOptimWrapper',
    'PCGradOptimWrapper'
]
