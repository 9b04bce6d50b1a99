"""Framework-free evaluation helpers."""
from .boundary_f1 import boundary_f1, boundary_tolerance, seg2bmap
from .forgetting import ForgettingError, forgetting_rate, forgetting_table
from .vqa_normalize import normalize_answer, vqa_accuracy

__all__ = [
    'ForgettingError', 'boundary_f1', 'boundary_tolerance', 'forgetting_rate',
    'forgetting_table', 'normalize_answer', 'seg2bmap', 'vqa_accuracy'
]
