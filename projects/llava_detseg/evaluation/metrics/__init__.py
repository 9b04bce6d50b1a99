"""Metrics of the ``llava_detseg`` scope (registered in ``METRICS``)."""
from .accuracy_metric import Accuracy
from .answer_loss_metric import AnswerLossMetric
from .boundary_f1_metric import BoundaryF1Metric
from .choice_metrics import (MMEMetric, POPEMetric, ScienceQAMetric,
                             mme_yes_no, pope_yes_no, scienceqa_letter)
from .coco_metric import DetCocoMetric
from .confusion_matrix import ConfusionMatrix, plot_confusion_matrix
from .retrieval_metric import ImageTextRetrievalRecall
from .task_metric import TaskMetric
from .text_metric import TextDetSegMetric, head_vs_text_lines
from .vqa_metric import VQAMetric

__all__ = [
    'Accuracy', 'ConfusionMatrix', 'ImageTextRetrievalRecall',
    'plot_confusion_matrix',
    'AnswerLossMetric', 'BoundaryF1Metric', 'DetCocoMetric', 'MMEMetric',
    'POPEMetric', 'ScienceQAMetric', 'TaskMetric', 'TextDetSegMetric',
    'VQAMetric', 'head_vs_text_lines', 'mme_yes_no', 'pope_yes_no',
    'scienceqa_letter'
]
