"""Run any registered metric on the samples of one task only."""
import logging
from typing import Any, Dict, Optional, Sequence

from mmengine.evaluator import BaseMetric
from mmengine.logging import print_log

from llava_detseg.models.utils import build_in_scope
from llava_detseg.registry import METRICS


@METRICS.register_module()
class TaskMetric(BaseMetric):
    """Feed a wrapped metric only the samples whose ``tasks`` include ``task``.

    One evaluator scores every task of a multi-task dataset with the
    libraries' own metrics (``mmdet.CocoMetric``, ``mmseg.IoUMetric``) left
    unchanged: this wrapper filters the samples and hands the wrapped metric
    the dataset meta it expects (e.g. mmseg wants the semantic classes, with
    background, under ``classes``).

    A test set that concatenates benchmarks (``datasets/benchmarks``) tags
    each of their samples with its ``benchmark`` name: a wrapper given
    ``benchmark`` scores that benchmark's samples only, and one without
    scores the untagged samples only, so no question is counted twice.

    Args:
        task (str): A registered task (``det``, ``seg``, ``vqa``, ``cls``,
            ``itc``...).
        metric (dict): Config of the wrapped metric.
        meta_keys (dict, optional): ``{key the metric reads: dataset meta
            key}``, e.g. ``dict(classes='seg_classes')``.
        benchmark (str, optional): Score only the samples of this
            benchmark (their ``benchmark`` metainfo).
    """

    def __init__(self,
                 task: str,
                 metric: dict,
                 meta_keys: Optional[Dict[str, str]] = None,
                 benchmark: Optional[str] = None) -> None:
        self.metric = build_in_scope(METRICS, metric)
        super().__init__(
            collect_device=self.metric.collect_device,
            prefix=self.metric.prefix)
        self.task = task
        self.benchmark = benchmark
        self.meta_keys = dict(meta_keys or {})

    @property
    def dataset_meta(self) -> Optional[dict]:
        return self.metric.dataset_meta

    @dataset_meta.setter
    def dataset_meta(self, meta: Optional[dict]) -> None:
        if meta is not None:
            meta = dict(meta)
            for key, source in self.meta_keys.items():
                if source not in meta:
                    raise KeyError(
                        f'TaskMetric({self.task}): the dataset meta has no '
                        f'"{source}" (needed as "{key}" by '
                        f'{type(self.metric).__name__})')
                meta[key] = meta[source]
        self.metric.dataset_meta = meta

    def process(self, data_batch: Any, data_samples: Sequence[dict]) -> None:
        """Score the samples of this task with the wrapped metric.

        One entry per sample, empty for other tasks' samples, keeps the
        results of all ranks aligned when MMEngine gathers them by position.
        """
        inner = self.metric.results
        for sample in data_samples:
            start = len(inner)
            if self.task in sample.get('tasks', ()) and sample.get(
                    'benchmark') == self.benchmark:
                self.metric.process(data_batch, [sample])
            self.results.append(inner[start:])
            del inner[start:]

    def compute_metrics(self, results: list) -> dict:
        """The wrapped metric's ``compute_metrics`` on this task's results.

        No sample of the task (e.g. a det-only ablation that keeps the full
        config's evaluators) gives no metrics and a warning, instead of the
        wrapped metric failing on an empty list.
        """
        flat = [r for per_sample in results for r in per_sample]
        if not flat:
            what = f'task "{self.task}"' + (
                f' in benchmark "{self.benchmark}"' if self.benchmark else '')
            print_log(f'TaskMetric({self.task}): no sample of {what} was '
                      'evaluated; no metrics',
                      logger='current', level=logging.WARNING)
            return {}
        return self.metric.compute_metrics(flat)
