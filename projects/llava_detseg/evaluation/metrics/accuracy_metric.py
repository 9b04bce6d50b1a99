"""Image classification accuracy (top-k), as mmpretrain computes it."""
import logging
from typing import Any, Dict, List, Optional, Sequence, Union

import numpy as np
import torch
from mmengine.evaluator import BaseMetric
from mmengine.logging import print_log

from llava_detseg.registry import METRICS

Array = Union[torch.Tensor, np.ndarray, Sequence]


def to_tensor(value: Any) -> torch.Tensor:
    """A tensor, numpy array, sequence or number as a tensor."""
    if isinstance(value, torch.Tensor):
        return value
    if isinstance(value, np.ndarray):
        return torch.from_numpy(value)
    if isinstance(value, (Sequence, int, float, np.generic)) and \
            not isinstance(value, str):
        return torch.as_tensor(value)
    raise TypeError(f'{type(value).__name__} is not a tensor, array or '
                    'sequence')


def cls_record(sample: dict) -> Optional[dict]:
    """``pred_score`` (or ``pred_label``) and ``gt_label`` of a sample, on
    the CPU; ``None`` for a sample without a class prediction (another
    task's)."""
    if sample.get('pred_score') is None and sample.get('pred_label') is None:
        return None
    name = sample.get('img_path') or sample.get('img_id', '<unknown>')
    if sample.get('gt_label') is None:
        raise ValueError(f'Sample {name} has a class prediction but no '
                         'gt_label')
    record = dict(gt_label=to_tensor(sample['gt_label']).reshape(-1)[:1]
                  .long().cpu())
    if sample.get('pred_score') is not None:
        record['pred_score'] = to_tensor(sample['pred_score']).reshape(
            -1).float().cpu()
    else:
        record['pred_label'] = to_tensor(sample['pred_label']).reshape(
            -1)[:1].long().cpu()
    return record


def warn_nothing_scored(metric: BaseMetric, what: str) -> None:
    """Nothing scored is not a model that scored 0: say so, report no key."""
    print_log(f'{type(metric).__name__} ({metric.prefix}): no sample carried '
              f'{what}; nothing reported', logger='current',
              level=logging.WARNING)


@METRICS.register_module()
class Accuracy(BaseMetric):
    """Top-k classification accuracy in percent.

    Follows mmpretrain's ``Accuracy`` (``mmpretrain/evaluation/metrics/
    single_label.py``, v1.2.0, which does not import with this toolchain):
    the same ``calculate``, thresholds and key names (``top1``, ``top5``,
    ``top1_thr-0.50`` with several ``thrs``), so the numbers equal
    mmpretrain's on the same predictions. Two differences: a ``k`` above the
    number of classes is left out with a warning (mmpretrain raises), so the
    default ``topk=(1, 5)`` gives top-5 wherever there are >= 5 classes; and
    samples without a class prediction (other tasks' samples) are not
    scored, and no such sample at all gives no key and a warning (never a
    0.0).

    Fields read from each data sample (the model's ``cls`` part fills the
    predictions; ``PackMultiTaskInputs`` packs ``gt_label``):

    - ``pred_score`` (Tensor ``(C, )``): class scores (softmax
      probabilities; thresholds compare against them), or
    - ``pred_label`` (Tensor ``(1, )`` or int): the predicted class, which
      gives top-1 only;
    - ``gt_label`` (Tensor ``(1, )`` or int): the true class.

    Args:
        topk (int | Sequence[int]): The ``k`` s of top-k accuracy.
        thrs (float | Sequence[float | None] | None): A prediction counts
            only if its score exceeds the threshold (``None``: no
            threshold), as in mmpretrain.
        collect_device (str): As for ``BaseMetric``.
        prefix (str, optional): Default ``'accuracy'``.
    """

    default_prefix: Optional[str] = 'accuracy'

    def __init__(self,
                 topk: Union[int, Sequence[int]] = (1, 5),
                 thrs: Union[float, Sequence[Optional[float]], None] = 0.,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.topk = (topk, ) if isinstance(topk, int) else tuple(topk)
        if not self.topk or min(self.topk) < 1:
            raise ValueError(f'Accuracy: topk must be integers >= 1, got '
                             f'{topk}')
        self.thrs = (thrs, ) if thrs is None or isinstance(
            thrs, (int, float)) else tuple(thrs)

    def process(self, data_batch: Any, data_samples: Sequence[dict]) -> None:
        # one entry per sample, even an empty one: collect_results counts
        # entries to drop the samples a distributed sampler padded
        for sample in data_samples:
            self.results.append(cls_record(sample))

    def compute_metrics(self, results: List[Optional[dict]]
                        ) -> Dict[str, float]:
        records = [r for r in results if r is not None]
        if not records:
            warn_nothing_scored(self, 'pred_score or pred_label')
            return {}
        target = torch.cat([r['gt_label'] for r in records])
        if not all('pred_score' in r for r in records):
            # labels only (from some or all samples): top-1, as mmpretrain
            pred = torch.cat([
                r['pred_label'] if 'pred_label' in r else
                r['pred_score'].argmax().reshape(1) for r in records
            ])
            return dict(top1=self.calculate(pred, target).item())
        pred = torch.stack([r['pred_score'] for r in records])
        num_classes = pred.size(1)
        topk = tuple(k for k in self.topk if k <= num_classes)
        if len(topk) < len(self.topk):
            print_log(f'Accuracy ({self.prefix}): no top-k for k > '
                      f'{num_classes} classes; left out '
                      f'{[k for k in self.topk if k > num_classes]}',
                      logger='current', level=logging.WARNING)
        if not topk:
            return {}
        acc = self.calculate(pred, target, topk, self.thrs)
        metrics = {}
        for i, k in enumerate(topk):
            for j, thr in enumerate(self.thrs):
                name = f'top{k}'
                if len(self.thrs) > 1:
                    name += '_no-thr' if thr is None else f'_thr-{thr:.2f}'
                metrics[name] = acc[i][j].item()
        return metrics

    @staticmethod
    def calculate(pred: Array, target: Array,
                  topk: Sequence[int] = (1, ),
                  thrs: Sequence[Optional[float]] = (0., )
                  ) -> Union[torch.Tensor, List[List[torch.Tensor]]]:
        """mmpretrain's ``Accuracy.calculate``: labels ``(N, )`` give a
        top-1 tensor (``topk``, ``thrs`` unused); scores ``(N, C)`` give
        ``[[acc for thr] for k]``, in percent."""
        pred = to_tensor(pred)
        target = to_tensor(target).to(torch.int64).reshape(-1)
        num = pred.size(0)
        if num != target.size(0):
            raise ValueError(f'{num} predictions for {target.size(0)} '
                             'targets')
        if pred.ndim == 1:
            correct = pred.long().eq(target).float().sum(0, keepdim=True)
            return correct.mul_(100. / num)
        pred = pred.float()
        maxk = max(topk)
        if maxk > pred.size(1):
            raise ValueError(f'Top-{maxk} accuracy is unavailable with '
                             f'{pred.size(1)} classes.')
        pred_score, pred_label = pred.topk(maxk, dim=1)
        pred_label = pred_label.t()
        correct = pred_label.eq(target.view(1, -1).expand_as(pred_label))
        results = []
        for k in topk:
            results.append([])
            for thr in thrs:
                hit = correct
                if thr is not None:
                    hit = hit & (pred_score.t() > thr)
                correct_k = hit[:k].reshape(-1).float().sum(0, keepdim=True)
                results[-1].append(correct_k.mul_(100. / num))
        return results
