from .multitask_preprocessor import MultiTaskDataPreprocessor

__all__ = ['MultiTaskDataPreprocessor']
