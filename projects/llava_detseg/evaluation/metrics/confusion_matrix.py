"""Confusion matrix of image classification, and its PNG."""
import os.path as osp
from itertools import product
from typing import Any, Dict, List, Optional, Sequence

import numpy as np
import torch
from mmengine.evaluator import BaseMetric
from mmengine.logging import MessageHub, print_log
from mmengine.utils import mkdir_or_exist
from mmengine.visualization import Visualizer

from llava_detseg.registry import METRICS
from .accuracy_metric import Array, cls_record, to_tensor, warn_nothing_scored


def plot_confusion_matrix(matrix: Array,
                          classes: Optional[Sequence[str]] = None,
                          include_values: bool = True,
                          cmap: str = 'viridis',
                          colorbar: bool = True,
                          title: Optional[str] = None):
    """Draw ``matrix`` (rows: true class, columns: predicted) as a
    matplotlib ``Figure``.

    Follows mmpretrain's ``ConfusionMatrix.plot`` (itself from
    scikit-learn's ``ConfusionMatrixDisplay``): the same layout (predicted
    labels on top, values in a colour readable on their cell). It builds a
    ``Figure`` without pyplot, so it needs no display and leaves pyplot's
    global state alone (safe inside a training run).
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    matrix = to_tensor(matrix).cpu().numpy()
    n = matrix.shape[0]
    size = max(4.0, 0.6 * n + 2)
    fig = Figure(figsize=(size, size))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    image = ax.imshow(matrix, interpolation='nearest', cmap=cmap)
    if include_values:
        low, high = image.cmap(0), image.cmap(1.0)
        thresh = (matrix.max() + matrix.min()) / 2.0
        for i, j in product(range(n), range(n)):
            value = matrix[i, j]
            text = format(value, 'd') if np.issubdtype(
                matrix.dtype, np.integer) else format(value, '.2g')
            ax.text(j, i, text, ha='center', va='center',
                    color=high if value < thresh else low)
    labels = list(classes) if classes is not None else list(range(n))
    if colorbar:
        fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    ax.set(xticks=np.arange(n), yticks=np.arange(n), xticklabels=labels,
           yticklabels=labels, ylabel='True label', xlabel='Predicted label')
    ax.xaxis.tick_top()
    ax.xaxis.set_label_position('top')
    ax.set_ylim((n - 0.5, -0.5))
    for label in ax.get_xticklabels():
        label.set_rotation(45)
        label.set_horizontalalignment('left')
    if title:
        ax.set_title(title, pad=40)
    fig.tight_layout()
    return fig


def figure_to_rgb(fig) -> np.ndarray:
    """The figure's pixels, ``uint8 (H, W, 3)`` RGB."""
    fig.canvas.draw()
    return np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()


@METRICS.register_module()
class ConfusionMatrix(BaseMetric):
    """The ``(C, C)`` confusion matrix (rows: true class, columns:
    predicted), and a PNG of it at each evaluation.

    Follows mmpretrain's ``ConfusionMatrix`` (``mmpretrain/evaluation/
    metrics/single_label.py``, v1.2.0): the same ``calculate``, and the
    matrix reported as ``result`` (``confusion_matrix/result``), a tensor
    that ``tools/analysis_tools/confusion_matrix.py`` reads. The PNG goes to
    the run's visualizer (``vis_data/vis_image/{prefix}_{iter}.png`` with
    MMEngine's ``LocalVisBackend``; the prefix tells two datasets' matrices
    apart) and, with ``out_dir``, to ``{out_dir}/{prefix}_{iter}.png``. Samples without a class
    prediction are not counted; none at all gives no key and a warning.

    Fields read from each data sample: ``pred_score`` (Tensor ``(C, )``;
    its argmax is the predicted class) or ``pred_label`` (Tensor ``(1, )``
    or int), and ``gt_label`` (Tensor ``(1, )`` or int).

    Args:
        num_classes (int, optional): Classes; default: the dataset's
            ``classes``, else the length of ``pred_score``.
        out_dir (str, optional): Also write the PNG here.
        to_visualizer (bool): Add the PNG to the current visualizer.
        include_values (bool): Write the counts in the cells.
        cmap (str): matplotlib colour map.
        collect_device (str): As for ``BaseMetric``.
        prefix (str, optional): Default ``'confusion_matrix'``.
    """

    default_prefix: Optional[str] = 'confusion_matrix'

    def __init__(self,
                 num_classes: Optional[int] = None,
                 out_dir: Optional[str] = None,
                 to_visualizer: bool = True,
                 include_values: bool = True,
                 cmap: str = 'viridis',
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.num_classes = num_classes
        self.out_dir = out_dir
        self.to_visualizer = to_visualizer
        self.include_values = include_values
        self.cmap = cmap

    def process(self, data_batch: Any, data_samples: Sequence[dict]) -> None:
        for sample in data_samples:
            record = cls_record(sample)
            if record is not None and 'pred_score' in record:
                record['num_classes'] = record['pred_score'].numel()
                record['pred_label'] = record.pop('pred_score').argmax(
                ).reshape(1)
            self.results.append(record)

    def _classes(self) -> Optional[List[str]]:
        classes = (self.dataset_meta or {}).get('classes')
        return list(classes) if classes else None

    def compute_metrics(self, results: List[Optional[dict]]
                        ) -> Dict[str, torch.Tensor]:
        records = [r for r in results if r is not None]
        if not records:
            warn_nothing_scored(self, 'pred_score or pred_label')
            return {}
        classes = self._classes()
        num_classes = self.num_classes or (len(classes) if classes else None)
        if num_classes is None:
            sizes = [r['num_classes'] for r in records if 'num_classes' in r]
            if not sizes:
                raise ValueError('ConfusionMatrix: set num_classes (or give '
                                 'the dataset classes) when the samples '
                                 'carry pred_label only')
            num_classes = max(sizes)
        matrix = self.calculate(
            torch.cat([r['pred_label'] for r in records]),
            torch.cat([r['gt_label'] for r in records]), num_classes)
        if classes is not None and len(classes) != num_classes:
            classes = None
        self._write_png(matrix, classes)
        return dict(result=matrix)

    def _write_png(self, matrix: torch.Tensor,
                   classes: Optional[List[str]]) -> None:
        if not self.out_dir and not self.to_visualizer:
            return
        name = (self.prefix or 'confusion_matrix').replace('/', '_')
        hub = MessageHub.get_current_instance()
        step = int(hub.get_info('iter', 0) or 0)
        fig = plot_confusion_matrix(matrix, classes, self.include_values,
                                    self.cmap, title=f'iteration {step}')
        if self.out_dir:
            mkdir_or_exist(self.out_dir)
            path = osp.join(self.out_dir, f'{name}_{step}.png')
            fig.savefig(path)
            print_log(f'ConfusionMatrix: written to {path}',
                      logger='current')
        if self.to_visualizer:
            try:
                visualizer = Visualizer.get_current_instance()
            except RuntimeError:  # no run, no visualizer (offline use)
                return
            visualizer.add_image(name, figure_to_rgb(fig),
                                 step=step)

    @staticmethod
    def calculate(pred: Array, target: Array,
                  num_classes: Optional[int] = None) -> torch.Tensor:
        """mmpretrain's ``ConfusionMatrix.calculate``: ``pred`` labels
        ``(N, )`` (then ``num_classes`` is needed) or scores ``(N, C)``."""
        pred = to_tensor(pred)
        target = to_tensor(target).long().reshape(-1)
        if pred.size(0) != target.size(0):
            raise ValueError(f'{pred.size(0)} predictions for '
                             f'{target.size(0)} targets')
        if pred.ndim == 1:
            if num_classes is None:
                raise ValueError('num_classes is needed when pred holds '
                                 'labels, not scores')
            pred_label = pred.long()
        else:
            num_classes = num_classes or pred.size(1)
            pred_label = pred.argmax(dim=1).flatten()
        for name, labels in (('pred', pred_label), ('gt', target)):
            if len(labels) and not 0 <= int(labels.min()) <= int(
                    labels.max()) < num_classes:
                raise ValueError(f'{name} labels outside 0..'
                                 f'{num_classes - 1}')
        indices = num_classes * target + pred_label
        return torch.bincount(indices, minlength=num_classes**2).reshape(
            num_classes, num_classes)
