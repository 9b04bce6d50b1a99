"""One image of the synthetic shapes dataset: background, shapes, layout
and the visible regions' COCO polygons (numpy / OpenCV only)."""
from typing import Any, Dict, List, Optional, Tuple

import cv2
import numpy as np

from llava_detseg.structures.mask_polygons import (has_holes, outer_contours,
                                                   simplify_contour)

CLASSES: Tuple[str, ...] = ('circle', 'square', 'triangle')
# Saturated RGB shape colours; backgrounds keep a low saturation so these
# names stay unambiguous.
COLORS: Dict[str, Tuple[int, int, int]] = {
    'red': (220, 40, 40),
    'green': (40, 180, 60),
    'blue': (40, 80, 220),
    'yellow': (230, 210, 40),
}
COLOR_NAMES: Tuple[str, ...] = tuple(COLORS)
MAX_SHAPES = 5
SIZE_RANGE = (0.15, 0.45)  # shape extent as a fraction of the short side
BRIGHTNESS_JITTER = (0.85, 1.10)
MIN_VISIBLE_FRAC = 0.5
MIN_VISIBLE_PX = 80
# Polygons are traced on a 4x nearest-upsampled mask so their vertices sit
# within 1/8 px of the true pixel edges (tracing at 1x runs through pixel
# centres and loses half a pixel all round, which hurts small shapes).
POLY_UPSAMPLE = 4
POLY_EPS = 0.35  # approxPolyDP tolerance in original pixels (keeps json small)
_SHIFT = 4  # cv2 fixed-point bits for sub-pixel drawing


# --------------------------------------------------------------------------
# Backgrounds
# --------------------------------------------------------------------------
def _muted_color(rng: np.random.Generator,
                 lo: float = 45.,
                 hi: float = 215.) -> np.ndarray:
    """A grayish RGB colour (saturation <= ~0.2)."""
    gray = rng.uniform(lo, hi)
    tint = rng.uniform(-0.09, 0.09, size=3) * gray
    return np.clip(gray + tint, 0, 255)


def _background(rng: np.random.Generator, h: int, w: int,
                gray: Optional[Tuple[float, float]] = None) -> np.ndarray:
    """Random muted background, float32 HxWx3 in [0, 255]; ``gray`` (lo, hi)
    replaces every kind's range of gray levels (held-out splits)."""
    muted = _muted_color if gray is None else (
        lambda r, lo=None, hi=None: _muted_color(r, *gray))
    kind = rng.integers(5)
    if kind == 0:  # solid
        bg = np.broadcast_to(muted(rng), (h, w, 3))
    elif kind == 1:  # linear gradient between two muted colours
        c0, c1 = muted(rng), muted(rng)
        theta = rng.uniform(0, 2 * np.pi)
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        t = xx * np.cos(theta) + yy * np.sin(theta)
        t = (t - t.min()) / max(float(t.max() - t.min()), 1e-6)
        bg = c0 + t[..., None] * (c1 - c0)
    elif kind == 2:  # low-amplitude noise (gray, so saturation stays low)
        sigma = rng.uniform(3., 9.)
        noise = rng.normal(0., sigma, size=(h, w, 1))
        bg = muted(rng, 60., 200.) + noise
    else:  # stripes (3) or checker (4) of two muted colours
        c0 = muted(rng)
        c1 = np.clip(c0 + rng.choice([-1., 1.]) * rng.uniform(15., 45.), 0,
                     255)
        period = rng.uniform(8., 32.)
        theta = rng.uniform(0, np.pi)
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        u = xx * np.cos(theta) + yy * np.sin(theta)
        sel = np.floor(u / period).astype(np.int64)
        if kind == 4:
            v = -xx * np.sin(theta) + yy * np.cos(theta)
            sel = sel + np.floor(v / period).astype(np.int64)
        bg = np.where((sel % 2 == 0)[..., None], c0, c1)
    return np.asarray(bg, dtype=np.float32)


# --------------------------------------------------------------------------
# Shapes and layouts
# --------------------------------------------------------------------------
def _sample_shape(rng: np.random.Generator, h: int, w: int) -> Dict[str, Any]:
    """Sample one shape's class, colour and geometry (fully inside image)."""
    cls = int(rng.integers(len(CLASSES)))
    color = COLOR_NAMES[int(rng.integers(len(COLOR_NAMES)))]
    jitter = rng.uniform(*BRIGHTNESS_JITTER)
    rgb = np.clip(np.round(np.array(COLORS[color]) * jitter), 0, 255)
    s = rng.uniform(*SIZE_RANGE) * min(h, w)
    name = CLASSES[cls]
    # Per-class scale so that s is a comparable "extent" and the smallest
    # triangle still has > MIN_VISIBLE_PX pixels.
    if name == 'circle':
        radius = s / 2  # bounding radius
        angle = 0.
        pts = None
    elif name == 'square':
        half = 0.85 * s / 2
        radius = half * np.sqrt(2)
        angle = rng.uniform(0, np.pi / 2)
        base = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]]) * half
        pts = base
    else:  # equilateral triangle, circumradius 0.6 s
        radius = 0.6 * s
        angle = rng.uniform(0, 2 * np.pi / 3)
        a = np.pi / 2 + np.arange(3) * 2 * np.pi / 3
        pts = np.stack([np.cos(a), -np.sin(a)], axis=1) * radius
    cx = rng.uniform(radius, w - 1 - radius)
    cy = rng.uniform(radius, h - 1 - radius)
    if pts is not None:
        rot = np.array([[np.cos(angle), -np.sin(angle)],
                        [np.sin(angle), np.cos(angle)]])
        pts = pts @ rot.T + np.array([cx, cy])
    return dict(
        cls=cls, color=color, rgb=rgb, center=(cx, cy), radius=radius,
        pts=pts)


def _rasterize(shape: Dict[str, Any], h: int, w: int) -> np.ndarray:
    """Binary uint8 mask of the full (unoccluded) shape, no anti-aliasing."""
    mask = np.zeros((h, w), np.uint8)
    scale = 1 << _SHIFT
    if shape['pts'] is None:
        cx, cy = shape['center']
        cv2.circle(
            mask, (int(round(cx * scale)), int(round(cy * scale))),
            int(round(shape['radius'] * scale)),
            1,
            thickness=-1,
            lineType=cv2.LINE_8,
            shift=_SHIFT)
    else:
        pts = np.round(shape['pts'] * scale).astype(np.int32)
        cv2.fillPoly(mask, [pts], 1, lineType=cv2.LINE_8, shift=_SHIFT)
    return mask


def _bbox_of(mask: np.ndarray) -> Tuple[int, int, int, int]:
    """Inclusive pixel box (x0, y0, x1, y1) of a non-empty mask."""
    ys = np.flatnonzero(mask.any(axis=1))
    xs = np.flatnonzero(mask.any(axis=0))
    return int(xs[0]), int(ys[0]), int(xs[-1]), int(ys[-1])


def _try_layout(rng: np.random.Generator, h: int, w: int,
                n: int) -> Optional[Tuple[List[Dict], np.ndarray]]:
    """Sample ``n`` shapes; return (shapes, instance map) or None if any
    shape is too occluded. Instance map: 0 = background, k = shape k-1."""
    shapes = [_sample_shape(rng, h, w) for _ in range(n)]
    inst = np.zeros((h, w), np.uint8)
    areas = []
    for k, shape in enumerate(shapes):
        m = _rasterize(shape, h, w)
        areas.append(int(m.sum()))
        inst[m > 0] = k + 1  # later shapes occlude earlier ones
    for k, full in enumerate(areas):
        vis = inst == k + 1
        count = int(vis.sum())
        if count < MIN_VISIBLE_PX or count < MIN_VISIBLE_FRAC * full:
            return None
        # outer polygons cannot hold holes: such layouts are rejected
        if n > 1 and has_holes(vis):
            return None
        shapes[k]['area'] = count
    return shapes, inst


def _layout(rng: np.random.Generator, h: int,
            w: int) -> Tuple[List[Dict], np.ndarray]:
    """Rejection-sample a valid layout; drop a shape every 25 failures so
    crowded draws on small images terminate (one shape always fits)."""
    n = int(rng.integers(1, MAX_SHAPES + 1))
    attempt = 0
    while True:
        out = _try_layout(rng, h, w, n)
        if out is not None:
            return out
        attempt += 1
        if attempt % 25 == 0 and n > 1:
            n -= 1


def _polygons(vis: np.ndarray) -> List[List[float]]:
    """COCO polygons (outer contours) of a binary mask, in pixel-edge
    coordinates: vertex (x, y) = image-plane point, pixel i spans [i, i+1)."""
    x0, y0, x1, y1 = _bbox_of(vis)
    crop = np.pad(vis[y0:y1 + 1, x0:x1 + 1].astype(np.uint8), 1)
    k = POLY_UPSAMPLE
    polys = []
    for c in outer_contours(crop, upsample=k):
        approx = simplify_contour(c, POLY_EPS * k)
        if len(approx) < 3:  # degenerate after simplification: keep raw
            approx = c.reshape(-1, 2)
        if len(approx) < 3:
            continue
        # Upsampled sub-pixel centre c -> (c + 0.5) / k in the crop, then undo
        # the 1 px padding and the crop offset.
        pts = (approx.astype(np.float64) + 0.5) / k
        pts += np.array([x0 - 1, y0 - 1], dtype=np.float64)
        polys.append([float(v) for v in pts.reshape(-1)])
    return polys


def generate_image(
        rng: np.random.Generator, min_size: int, max_size: int,
        bg_gray: Optional[Tuple[float, float]] = None
) -> Tuple[np.ndarray, np.ndarray, List[Dict[str, Any]]]:
    """Generate one image (``bg_gray``: the backgrounds' gray-level range,
    None for the default 45-215 / 60-200 of the noise kind).

    Returns:
        tuple: RGB uint8 image (H, W, 3), semantic uint8 map (H, W) with
        0 = background and class index + 1 elsewhere, and a list of instance
        dicts (``cls``, ``color``, ``area``, ``bbox`` [x, y, w, h] and
        ``segmentation``), in painting order, all for the visible regions.
    """
    w = int(rng.integers(min_size, max_size + 1))
    h = int(rng.integers(min_size, max_size + 1))
    bg = _background(rng, h, w, bg_gray)
    shapes, inst = _layout(rng, h, w)

    img = np.clip(np.round(bg), 0, 255).astype(np.uint8)
    lut = np.zeros(len(shapes) + 1, np.uint8)
    instances = []
    for k, shape in enumerate(shapes):
        vis = inst == k + 1
        img[vis] = shape['rgb'].astype(np.uint8)
        lut[k + 1] = shape['cls'] + 1
        x0, y0, x1, y1 = _bbox_of(vis)
        instances.append(
            dict(
                cls=shape['cls'],
                color=shape['color'],
                area=shape['area'],
                bbox=[float(x0), float(y0), float(x1 - x0 + 1),
                      float(y1 - y0 + 1)],
                segmentation=_polygons(vis)))
    semantic = lut[inst]
    return img, semantic, instances
