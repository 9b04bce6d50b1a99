"""Metrics of the ``llava_detseg`` scope (registered in ``METRICS``)."""
from .task_metric import TaskMetric
from .text_metric import TextDetSegMetric, head_vs_text_lines
from .vqa_metric import VQAMetric

__all__ = ['TaskMetric', 'TextDetSegMetric', 'VQAMetric', 'head_vs_text_lines']
