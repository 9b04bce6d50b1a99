"""Boundary F1 of binary masks (the DAVIS ``f_measure``).

Follows ``db_eval_boundary`` / ``seg2bmap`` of the DAVIS 2016/2017
evaluation (``davisvideochallenge/davis2017-evaluation:
davis2017/metrics.py``; Martin et al., PAMI 2004): a mask's boundary is
the set of its pixels that differ from their east, south or south-east
neighbour; a boundary pixel of one mask is matched when a boundary pixel of
the other lies within a disk of radius ``ceil(0.008 * image diagonal)``.
Precision and recall are the matched shares of the predicted and the
ground-truth boundary; F is their harmonic mean. Written here rather than
taken from a package: the DAVIS code is not packaged, and it dilates with
scikit-image's ``disk``, which this toolchain does not install; OpenCV's
dilation with the same disk gives the same result.
"""
import math
from typing import Optional, Tuple

import cv2
import numpy as np

__all__ = ['seg2bmap', 'boundary_f1', 'boundary_tolerance']

# DAVIS' default tolerance: a fraction of the image diagonal
BOUND_TH = 0.008


def seg2bmap(mask: np.ndarray) -> np.ndarray:
    """One-pixel-wide boundary of a binary mask (DAVIS ``seg2bmap``, same
    size as the mask).

    A pixel is on the boundary when it differs from its east, south or
    south-east neighbour; the last row compares east only, the last column
    south only, and the bottom-right pixel is never on it.
    """
    seg = np.asarray(mask).astype(bool)
    if seg.ndim != 2:
        raise ValueError(f'seg2bmap needs a 2-D mask, got shape {seg.shape}')
    e = np.zeros_like(seg)
    s = np.zeros_like(seg)
    se = np.zeros_like(seg)
    e[:, :-1] = seg[:, 1:]
    s[:-1, :] = seg[1:, :]
    se[:-1, :-1] = seg[1:, 1:]
    b = (seg ^ e) | (seg ^ s) | (seg ^ se)
    b[-1, :] = seg[-1, :] ^ e[-1, :]
    b[:, -1] = seg[:, -1] ^ s[:, -1]
    b[-1, -1] = False
    return b


def boundary_tolerance(shape: Tuple[int, int],
                       bound_th: float = BOUND_TH) -> int:
    """Match radius in pixels: ``bound_th`` itself when >= 1, else
    ``ceil(bound_th * diagonal)``."""
    if bound_th >= 1:
        return int(bound_th)
    return int(math.ceil(bound_th * math.hypot(shape[0], shape[1])))


def _disk(radius: int) -> np.ndarray:
    """scikit-image's ``disk(radius)``: pixels with x^2 + y^2 <= r^2."""
    y, x = np.ogrid[-radius:radius + 1, -radius:radius + 1]
    return (x * x + y * y <= radius * radius).astype(np.uint8)


def boundary_f1(pred: np.ndarray,
                gt: np.ndarray,
                void: Optional[np.ndarray] = None,
                bound_th: float = BOUND_TH) -> Tuple[float, float, float]:
    """``(F, precision, recall)`` of two binary masks' boundaries.

    Empty boundaries follow DAVIS: both empty give precision = recall = 1
    (F = 1); an empty prediction against a non-empty ground truth gives
    precision 1, recall 0 (F = 0); the converse precision 0, recall 1.

    Args:
        pred (np.ndarray): (H, W) predicted mask (any dtype, non-zero = in).
        gt (np.ndarray): (H, W) ground-truth mask.
        void (np.ndarray, optional): (H, W) pixels to ignore (e.g. label
            255); they are cut out of both masks before the boundaries are
            taken, as DAVIS does.
        bound_th (float): Tolerance (see :func:`boundary_tolerance`).
    """
    pred = np.asarray(pred).astype(bool)
    gt = np.asarray(gt).astype(bool)
    if pred.shape != gt.shape:
        raise ValueError(f'boundary_f1: prediction {pred.shape} and ground '
                         f'truth {gt.shape} differ in size')
    if void is not None:
        keep = ~np.asarray(void).astype(bool)
        pred, gt = pred & keep, gt & keep
    radius = boundary_tolerance(pred.shape, bound_th)
    fg_b, gt_b = seg2bmap(pred), seg2bmap(gt)
    kernel = _disk(radius)
    fg_dil = cv2.dilate(fg_b.astype(np.uint8), kernel).astype(bool)
    gt_dil = cv2.dilate(gt_b.astype(np.uint8), kernel).astype(bool)
    n_fg, n_gt = int(fg_b.sum()), int(gt_b.sum())
    if n_fg == 0 and n_gt > 0:
        precision, recall = 1.0, 0.0
    elif n_fg > 0 and n_gt == 0:
        precision, recall = 0.0, 1.0
    elif n_fg == 0 and n_gt == 0:
        precision, recall = 1.0, 1.0
    else:
        precision = float((fg_b & gt_dil).sum()) / n_fg
        recall = float((gt_b & fg_dil).sum()) / n_gt
    if precision + recall == 0:
        return 0.0, precision, recall
    return (2 * precision * recall / (precision + recall), precision, recall)
