"""mmdet's ``CocoMetric`` with an empty prediction set scored as a real 0."""
import logging
from typing import Dict, List

from mmdet.evaluation import CocoMetric
from mmengine.logging import print_log

from llava_detseg.registry import METRICS

# the summary keys mmdet's CocoMetric writes per metric (``bbox_mAP`` ...)
COCO_ITEMS = ('mAP', 'mAP_50', 'mAP_75', 'mAP_s', 'mAP_m', 'mAP_l')


@METRICS.register_module()
class DetCocoMetric(CocoMetric):
    """``mmdet.CocoMetric`` that reports 0.0 when the model predicted no
    box, with the prediction count.

    When no image has a prediction, mmdet's ``CocoMetric`` logs "The testing
    results of the whole dataset is empty" and returns no ``bbox_mAP`` at
    all, so a barely trained model's log just lacks detection. Predicting
    nothing is a real result (AP 0), so this subclass returns the summary
    keys as 0.0 and a warning instead; every run also reports
    ``<metric>_num_predictions`` so that a 0 reads as what it is. Subclassed
    rather than wrapped: the arguments and the rest of the behaviour are
    mmdet's.
    """

    def compute_metrics(self, results: List[tuple]) -> Dict[str, float]:
        num = sum(len(pred['bboxes']) for _, pred in results)
        if num == 0 and results and not self.format_only:
            print_log(f'DetCocoMetric: no box predicted on {len(results)} '
                      'images; AP reported as 0.0', logger='current',
                      level=logging.WARNING)
            out = {}
            for metric in self.metrics:
                items = self.metric_items or COCO_ITEMS
                out.update({f'{metric}_{k}': 0.0 for k in items})
                out[f'{metric}_num_predictions'] = 0
            return out
        out = super().compute_metrics(results)
        for metric in self.metrics:
            out[f'{metric}_num_predictions'] = num
        return out
