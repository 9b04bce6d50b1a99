"""Boundary F1 of semantic segmentation, beside mmseg's ``IoUMetric``."""
import logging
from typing import Any, Dict, List, Optional, Sequence

import numpy as np
from mmengine.evaluator import BaseMetric
from mmengine.logging import print_log

from llava_detseg.registry import METRICS
from ..functional.boundary_f1 import BOUND_TH, boundary_f1


@METRICS.register_module()
class BoundaryF1Metric(BaseMetric):
    """Boundary F1 (BF) per class and per image, DAVIS' ``f_measure``.

    mIoU hardly moves when a mask's outline is off by a few pixels; BF
    scores the outline itself (Csurka et al., BMVC 2013, "What is a good
    evaluation measure for semantic segmentation?"). For every image and
    every class present in its ground truth or its prediction, the binary
    masks of that class get ``boundary_f1`` (tolerance
    ``ceil(bound_th * diagonal)``; ignore pixels cut out of both). A class
    absent from both is not counted (it would score 1 for free); a class
    the prediction misses scores 0.

    Reads the same fields as mmseg's ``IoUMetric`` (``pred_sem_seg.data``,
    ``gt_sem_seg.data``, both (1, H, W) at the original size) and the
    classes from the dataset meta (``classes``; in this project
    ``TaskMetric(meta_keys=dict(classes='seg_classes'))`` provides them).

    Reports, in percent as mmseg reports mIoU, ``mBF1`` (mean over classes
    of each class' mean over the images that hold it), ``mBF1_image`` (mean
    over images of each image's mean over its classes) and ``num_images``;
    the per-class values are logged as a table and returned as
    ``BF1.<class>`` when ``classwise``.

    Args:
        ignore_index (int): Label of ignored pixels. Defaults to 255.
        bound_th (float): Tolerance as a fraction of the diagonal (or pixels
            when >= 1). Defaults to 0.008 (DAVIS).
        classwise (bool): Also return per-class values.
        collect_device (str): As for ``BaseMetric``.
        prefix (str, optional): Default ``'seg'``.
    """

    default_prefix: Optional[str] = 'seg'

    def __init__(self,
                 ignore_index: int = 255,
                 bound_th: float = BOUND_TH,
                 classwise: bool = False,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.ignore_index = ignore_index
        self.bound_th = bound_th
        self.classwise = classwise

    def process(self, data_batch: Any, data_samples: Sequence[dict]) -> None:
        """Per image: ``{class index: F}`` of the classes it holds."""
        for sample in data_samples:
            pred = _label_map(sample, 'pred_sem_seg')
            gt = _label_map(sample, 'gt_sem_seg')
            if pred.shape != gt.shape:
                raise ValueError(
                    f'BoundaryF1Metric: {sample.get("img_path")}: prediction '
                    f'{pred.shape} and ground truth {gt.shape} differ in '
                    'size')
            void = gt == self.ignore_index
            classes = set(np.unique(gt[~void]).tolist()) | set(
                np.unique(pred[~void]).tolist())
            classes.discard(self.ignore_index)
            self.results.append({
                int(c): boundary_f1(pred == c, gt == c, void,
                                    self.bound_th)[0]
                for c in sorted(classes)
            })

    def compute_metrics(self, results: List[Dict[int, float]]) -> dict:
        """Class and image means; no key (and a warning) when no image held
        any class."""
        per_image = [r for r in results if r]
        if not per_image:
            print_log('BoundaryF1Metric: no image held a labelled pixel; '
                      'no boundary F1', logger='current',
                      level=logging.WARNING)
            return {}
        names = (self.dataset_meta or {}).get('classes')
        per_class: Dict[int, List[float]] = {}
        for rec in per_image:
            for c, f in rec.items():
                per_class.setdefault(c, []).append(f)
        class_means = {c: float(np.mean(v)) for c, v in per_class.items()}
        name = (lambda c: names[c]  # noqa: E731
                if names is not None and c < len(names) else str(c))
        print_log('Boundary F1 per class:\n' + '\n'.join(
            f'  {name(c):<20} {100 * f:6.2f}  ({len(per_class[c])} images)'
            for c, f in sorted(class_means.items())), logger='current')
        # percentages, as mmseg's IoUMetric reports mIoU beside it
        out = dict(
            mBF1=100 * float(np.mean(list(class_means.values()))),
            mBF1_image=100 * float(np.mean([np.mean(list(r.values()))
                                            for r in per_image])),
            num_images=len(per_image))
        if self.classwise:
            out.update({f'BF1.{name(c)}': 100 * f
                        for c, f in class_means.items()})
        return out


def _label_map(sample: dict, key: str) -> np.ndarray:
    """(H, W) int label map of ``sample[key]`` (a ``PixelData`` or its
    dict, holding ``data`` of shape (1, H, W))."""
    field = sample.get(key)
    if field is None:
        raise KeyError(f'BoundaryF1Metric: sample {sample.get("img_path")} '
                       f'has no "{key}"')
    data = field['data'] if isinstance(field, dict) else field.data
    arr = data.cpu().numpy() if hasattr(data, 'cpu') else np.asarray(data)
    return arr.reshape(arr.shape[-2:]).astype(np.int64)
