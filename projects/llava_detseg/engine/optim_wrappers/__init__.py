from .multi_task_optim_wrapper import (GradNormOptimWrapper,
                                       MultiTaskOptimWrapper,
                                       PCGradOptimWrapper)

__all__ = [
    'GradNormOptimWrapper', 'MultiTaskOptimWrapper', 'PCGradOptimWrapper'
]
