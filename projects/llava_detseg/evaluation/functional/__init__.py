"""Framework-free evaluation helpers."""
from .vqa_normalize import normalize_answer, vqa_accuracy

__all__ = ['normalize_answer', 'vqa_accuracy']
