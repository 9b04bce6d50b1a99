"""Framework-free evaluation helpers."""
from .forgetting import forgetting_rate
from .vqa_normalize import normalize_answer, vqa_accuracy

__all__ = ['forgetting_rate', 'normalize_answer', 'vqa_accuracy']
