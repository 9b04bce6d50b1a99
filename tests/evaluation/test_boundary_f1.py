"""Boundary F1 against an independent NumPy / SciPy DAVIS implementation."""
import math

import numpy as np
import pytest
import torch
from mmengine.evaluator import Evaluator
from mmengine.structures import PixelData
from scipy import ndimage

from llava_detseg.evaluation import BoundaryF1Metric
from llava_detseg.evaluation.functional import (boundary_f1,
                                                boundary_tolerance, seg2bmap)


# ---------------------------------------------------------------- reference
def davis_seg2bmap(seg: np.ndarray) -> np.ndarray:
    """DAVIS ``seg2bmap`` written from its definition with padding: a pixel
    is a boundary pixel when it differs from its E, S or SE neighbour, the
    neighbours outside the image counting as equal to the pixel for the
    last row (S, SE) and column (E, SE); the corner never counts."""
    s = seg.astype(np.int8)
    h, w = s.shape
    pad = np.pad(s, ((0, 1), (0, 1)), mode='edge')
    east = pad[:h, 1:w + 1]
    south = pad[1:h + 1, :w]
    se = pad[1:h + 1, 1:w + 1]
    b = (s != east) | (s != south) | (s != se)
    # the original zero-fills E/S/SE first, then recomputes the last row
    # from E alone and the last column from S alone
    b[-1, :] = s[-1, :] != np.append(s[-1, 1:], 0)
    b[:, -1] = s[:, -1] != np.append(s[1:, -1], 0)
    b[-1, -1] = False
    return b


def davis_f_measure(fg: np.ndarray, gt: np.ndarray, void=None,
                    bound_th: float = 0.008) -> float:
    """``db_eval_boundary`` with SciPy's binary dilation."""
    fg, gt = fg.astype(bool), gt.astype(bool)
    if void is not None:
        fg, gt = fg & ~void, gt & ~void
    r = bound_th if bound_th >= 1 else math.ceil(
        bound_th * np.linalg.norm(fg.shape))
    yy, xx = np.mgrid[-r:r + 1, -r:r + 1]
    disk = xx ** 2 + yy ** 2 <= r ** 2
    fb, gb = davis_seg2bmap(fg), davis_seg2bmap(gt)
    fd = ndimage.binary_dilation(fb, structure=disk)
    gd = ndimage.binary_dilation(gb, structure=disk)
    n_fg, n_gt = fb.sum(), gb.sum()
    if n_fg == 0 and n_gt > 0:
        p, rc = 1.0, 0.0
    elif n_fg > 0 and n_gt == 0:
        p, rc = 0.0, 1.0
    elif n_fg == 0 and n_gt == 0:
        p, rc = 1.0, 1.0
    else:
        p, rc = (fb & gd).sum() / n_fg, (gb & fd).sum() / n_gt
    return 0.0 if p + rc == 0 else 2 * p * rc / (p + rc)


def blobs(rng, shape, n):
    """A mask of ``n`` random rectangles and discs."""
    m = np.zeros(shape, bool)
    yy, xx = np.mgrid[:shape[0], :shape[1]]
    for _ in range(n):
        cy, cx = rng.integers(0, shape[0]), rng.integers(0, shape[1])
        r = rng.integers(2, max(3, min(shape) // 3))
        if rng.random() < 0.5:
            m |= (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r
        else:
            m[max(0, cy - r):cy + r, max(0, cx - r):cx + r] = True
    return m


# ---------------------------------------------------------------- tests
def test_seg2bmap_matches_the_reference_on_random_masks():
    rng = np.random.default_rng(0)
    for _ in range(50):
        shape = tuple(rng.integers(1, 40, 2))
        m = rng.random(shape) < rng.random()
        np.testing.assert_array_equal(seg2bmap(m), davis_seg2bmap(m))


def test_boundary_f1_matches_the_reference_on_random_masks():
    rng = np.random.default_rng(1)
    values = []
    for k in range(200):
        shape = (int(rng.integers(8, 120)), int(rng.integers(8, 120)))
        gt = blobs(rng, shape, int(rng.integers(0, 4)))
        # a prediction near the ground truth, shifted and eroded at random
        pred = np.roll(gt, tuple(rng.integers(-4, 5, 2)), axis=(0, 1))
        if rng.random() < 0.3:
            pred = ndimage.binary_erosion(pred, iterations=2)
        if rng.random() < 0.2:
            pred = blobs(rng, shape, int(rng.integers(0, 3)))
        void = rng.random(shape) < 0.05 if k % 3 == 0 else None
        th = 0.008 if k % 4 else float(rng.integers(1, 4))
        got = boundary_f1(pred, gt, void, th)[0]
        want = davis_f_measure(pred, gt, void, th)
        assert got == pytest.approx(want, abs=1e-6), k
        values.append(got)
    # the cases span the range, not only the trivial ends
    assert min(values) < 0.3 and max(values) == 1.0
    assert sum(0.3 < v < 0.99 for v in values) > 50


def test_empty_masks_follow_davis():
    z = np.zeros((20, 30), bool)
    m = z.copy()
    m[5:10, 5:12] = True
    assert boundary_f1(z, z) == (1.0, 1.0, 1.0)
    assert boundary_f1(z, m) == (0.0, 1.0, 0.0)  # missed
    assert boundary_f1(m, z) == (0.0, 0.0, 1.0)  # hallucinated
    assert boundary_f1(m, m)[0] == 1.0
    for a, b in ((z, z), (z, m), (m, z)):
        assert boundary_f1(a, b)[0] == davis_f_measure(a, b)


def test_tolerance_is_ceil_of_0008_of_the_diagonal():
    assert boundary_tolerance((480, 640)) == math.ceil(0.008 * 800)  # 7
    assert boundary_tolerance((128, 128)) == 2
    assert boundary_tolerance((10, 10), 3) == 3
    with pytest.raises(ValueError, match='differ in size'):
        boundary_f1(np.zeros((4, 4)), np.zeros((4, 5)))


def _sample(pred: np.ndarray, gt: np.ndarray) -> dict:
    return dict(img_path='x.png',
                pred_sem_seg=PixelData(data=torch.from_numpy(pred)[None]),
                gt_sem_seg=PixelData(data=torch.from_numpy(gt)[None]))


def test_metric_means_per_class_and_per_image():
    rng = np.random.default_rng(2)
    maps = []
    for _ in range(4):
        gt = np.zeros((40, 50), np.int64)
        gt[blobs(rng, gt.shape, 2)] = 1
        gt[blobs(rng, gt.shape, 1)] = 2
        gt[:2] = 255  # ignored band
        pred = np.roll(gt, 3, axis=1)
        pred[pred == 255] = 0
        maps.append((pred, gt))
    metric = BoundaryF1Metric(classwise=True)
    metric.dataset_meta = dict(classes=('background', 'circle', 'square'))
    ev = Evaluator(metric)
    ev.dataset_meta = metric.dataset_meta
    ev.process([_sample(p, g) for p, g in maps])
    out = ev.evaluate(len(maps))
    # the reference: per image, every class in gt or prediction
    per_class, per_image = {}, []
    for pred, gt in maps:
        void = gt == 255
        cls = (set(np.unique(gt[~void])) | set(np.unique(pred[~void]))) - {
            255}
        fs = {c: davis_f_measure(pred == c, gt == c, void) for c in cls}
        per_image.append(np.mean(list(fs.values())))
        for c, f in fs.items():
            per_class.setdefault(c, []).append(f)
    want = np.mean([np.mean(v) for v in per_class.values()])
    # in percent, beside mmseg's mIoU
    assert out['seg/mBF1'] == pytest.approx(100 * want, abs=1e-6)
    assert out['seg/mBF1_image'] == pytest.approx(100 * np.mean(per_image),
                                                  abs=1e-6)
    assert out['seg/BF1.circle'] == pytest.approx(
        100 * np.mean(per_class[1]), abs=1e-6)
    assert out['seg/num_images'] == 4
    assert 20 < out['seg/mBF1'] < 99


def test_metric_with_nothing_labelled_reports_no_key():
    ev = Evaluator(BoundaryF1Metric())
    full = np.full((8, 8), 255, np.int64)
    ev.process([_sample(np.zeros((8, 8), np.int64), full)])
    assert ev.evaluate(1) == {}
