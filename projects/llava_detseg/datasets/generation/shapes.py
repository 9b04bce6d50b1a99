"""Deterministic synthetic "shapes" dataset (the project's default data).

Every image holds 1-5 coloured circles / squares / triangles on a muted
background. For each split the generator writes RGB images, a semantic label
map, COCO instance annotations (visible-region polygons) and LLaVA-style
question / answer pairs, all derived from one painted instance map so that the
three label types agree pixel for pixel.

Only numpy, OpenCV and the standard library are used (pycocotools is needed
only by the tests), so the generator runs without torch / mmengine.
"""
from __future__ import annotations

import json
import os
import os.path as osp
import re
from typing import Any, Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np

try:  # tqdm is optional: without it there simply is no progress bar.
    from tqdm import tqdm
except ImportError:  # pragma: no cover
    tqdm = None

__all__ = [
    'CLASSES', 'COLORS', 'GENERATOR_VERSION', 'SPLITS', 'generate_shapes',
    'generate_image', 'make_questions'
]

# Bump whenever the output for a given seed changes, so cached datasets
# (checked through ``meta.json``) are regenerated.
GENERATOR_VERSION = '1.0.0'

CLASSES: Tuple[str, ...] = ('circle', 'square', 'triangle')
PLURALS: Dict[str, str] = {
    'circle': 'circles',
    'square': 'squares',
    'triangle': 'triangles'
}
# Saturated RGB shape colours; backgrounds keep a low saturation so these
# names stay unambiguous.
COLORS: Dict[str, Tuple[int, int, int]] = {
    'red': (220, 40, 40),
    'green': (40, 180, 60),
    'blue': (40, 80, 220),
    'yellow': (230, 210, 40),
}
COLOR_NAMES: Tuple[str, ...] = tuple(COLORS)
# Split index is part of every image's RNG seed: the val set is independent
# of ``num_train``.
SPLITS: Tuple[str, ...] = ('train', 'val')

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
_FILE_RE = re.compile(r'^\d{6,}\.png$')


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


def _background(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """Random muted background, float32 HxWx3 in [0, 255]."""
    kind = rng.integers(5)
    if kind == 0:  # solid
        bg = np.broadcast_to(_muted_color(rng), (h, w, 3))
    elif kind == 1:  # linear gradient between two muted colours
        c0, c1 = _muted_color(rng), _muted_color(rng)
        theta = rng.uniform(0, 2 * np.pi)
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        t = xx * np.cos(theta) + yy * np.sin(theta)
        t = (t - t.min()) / max(float(t.max() - t.min()), 1e-6)
        bg = c0 + t[..., None] * (c1 - c0)
    elif kind == 2:  # low-amplitude noise (gray, so saturation stays low)
        sigma = rng.uniform(3., 9.)
        noise = rng.normal(0., sigma, size=(h, w, 1))
        bg = _muted_color(rng, 60., 200.) + noise
    else:  # stripes (3) or checker (4) of two muted colours
        c0 = _muted_color(rng)
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


def _has_holes(mask: np.ndarray) -> bool:
    """Whether the binary mask has interior holes (outer polygons can't
    represent them, so such layouts are rejected)."""
    _, hier = cv2.findContours(mask, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
    return hier is not None and bool((hier[0, :, 3] >= 0).any())


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
        if n > 1 and _has_holes(vis.astype(np.uint8)):
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
    up = cv2.resize(
        crop, (crop.shape[1] * k, crop.shape[0] * k),
        interpolation=cv2.INTER_NEAREST)
    contours, _ = cv2.findContours(up, cv2.RETR_EXTERNAL,
                                   cv2.CHAIN_APPROX_SIMPLE)
    polys = []
    for c in contours:
        approx = cv2.approxPolyDP(c, POLY_EPS * k, True)
        if len(approx) < 3:  # degenerate after simplification: keep raw
            approx = c
        if len(approx) < 3:
            continue
        # Upsampled sub-pixel centre c -> (c + 0.5) / k in the crop, then undo
        # the 1 px padding and the crop offset.
        pts = (approx[:, 0, :].astype(np.float64) + 0.5) / k
        pts += np.array([x0 - 1, y0 - 1], dtype=np.float64)
        polys.append([float(v) for v in pts.reshape(-1)])
    return polys


def generate_image(
        rng: np.random.Generator, min_size: int, max_size: int
) -> Tuple[np.ndarray, np.ndarray, List[Dict[str, Any]]]:
    """Generate one image.

    Returns:
        tuple: RGB uint8 image (H, W, 3), semantic uint8 map (H, W) with
        0 = background and class index + 1 elsewhere, and a list of instance
        dicts (``cls``, ``color``, ``area``, ``bbox`` [x, y, w, h] and
        ``segmentation``), in painting order, all for the visible regions.
    """
    w = int(rng.integers(min_size, max_size + 1))
    h = int(rng.integers(min_size, max_size + 1))
    bg = _background(rng, h, w)
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


# --------------------------------------------------------------------------
# Questions
# --------------------------------------------------------------------------
def make_questions(rng: np.random.Generator,
                   instances: Sequence[Dict[str, Any]]) -> List[Tuple[str,
                                                                      str]]:
    """4-6 distinct (question, answer) pairs about one image's instances.

    Kinds: counting (any class, so some answers are "0"), colour of a class
    present exactly once, and yes/no presence of a (colour, class) pair.
    Questions are drawn without replacement from per-kind pools, and yes/no
    answers strictly alternate within an image (random start; a yes/no is
    skipped rather than asked with the other answer when the "yes" pool is
    used up), which keeps yes/no balanced in expectation.
    """
    counts = [0] * len(CLASSES)
    present = set()
    for ins in instances:
        counts[ins['cls']] += 1
        present.add((ins['color'], ins['cls']))
    # Sorted before shuffling: set order must not leak into the RNG stream.
    order = lambda p: (p[1], COLOR_NAMES.index(p[0]))  # noqa: E731
    absent = [(col, c) for c in range(len(CLASSES)) for col in COLOR_NAMES
              if (col, c) not in present]
    pools: Dict[str, list] = {
        'count': list(range(len(CLASSES))),
        'color': [c for c in range(len(CLASSES)) if counts[c] == 1],
        'yes': sorted(present, key=order),
        'no': absent,
    }
    for key in pools:  # fixed key order -> deterministic
        perm = rng.permutation(len(pools[key]))
        pools[key] = [pools[key][i] for i in perm]

    n_q = int(rng.integers(4, 7))
    next_yes = bool(rng.integers(2))
    qa: List[Tuple[str, str]] = []
    for _ in range(n_q):
        kinds = [
            k for k, ok in (('count', pools['count']),
                            ('color', pools['color']),
                            ('yesno', pools['yes' if next_yes else 'no']))
            if ok
        ]
        if not kinds:
            break
        kind = kinds[int(rng.integers(len(kinds)))]
        if kind == 'count':
            c = pools['count'].pop()
            qa.append((f'How many {PLURALS[CLASSES[c]]} are there?',
                       str(counts[c])))
        elif kind == 'color':
            c = pools['color'].pop()
            color = next(i['color'] for i in instances if i['cls'] == c)
            qa.append((f'What color is the {CLASSES[c]}?', color))
        else:
            yes = next_yes
            col, c = pools['yes' if yes else 'no'].pop()
            qa.append((f'Is there a {col} {CLASSES[c]}?',
                       'yes' if yes else 'no'))
            next_yes = not yes
    return qa


# --------------------------------------------------------------------------
# Driver
# --------------------------------------------------------------------------
def _write_png(path: str, arr: np.ndarray) -> None:
    """Lossless PNG via OpenCV (RGB arrays are converted to BGR)."""
    if arr.ndim == 3:
        arr = cv2.cvtColor(arr, cv2.COLOR_RGB2BGR)
    if not cv2.imwrite(path, arr, [cv2.IMWRITE_PNG_COMPRESSION, 3]):
        raise IOError(f'failed to write {path}')


def _dump_json(obj: Any, path: str) -> None:
    """Compact, key-order-stable json (byte-identical across runs)."""
    with open(path, 'w', encoding='utf-8') as f:
        json.dump(obj, f, separators=(',', ':'), ensure_ascii=True)


def _remove_stale(folder: str, keep: set) -> None:
    """Delete leftover numbered PNGs from an earlier, larger run."""
    for name in os.listdir(folder):
        if _FILE_RE.match(name) and name not in keep:
            os.remove(osp.join(folder, name))


def _generate_split(out_dir: str, split: str, num: int, seed: int,
                    min_size: int, max_size: int,
                    progress: bool) -> Dict[str, int]:
    split_idx = SPLITS.index(split)
    img_dir = osp.join(out_dir, 'images', split)
    sem_dir = osp.join(out_dir, 'semantic', split)
    for d in (img_dir, sem_dir):
        os.makedirs(d, exist_ok=True)

    images, annotations, llava = [], [], []
    ann_id = 1
    it = range(num)
    if progress and tqdm is not None:
        it = tqdm(it, desc=f'shapes/{split}', unit='img')
    for idx in it:
        # One generator per image: outputs do not depend on other counts.
        rng = np.random.default_rng([seed, split_idx, idx])
        img, sem, instances = generate_image(rng, min_size, max_size)
        qa = make_questions(rng, instances)
        fname = f'{idx:06d}.png'
        _write_png(osp.join(img_dir, fname), img)
        _write_png(osp.join(sem_dir, fname), sem)
        h, w = sem.shape
        images.append(dict(id=idx, file_name=fname, width=w, height=h))
        for ins in instances:
            annotations.append(
                dict(
                    id=ann_id,
                    image_id=idx,
                    category_id=ins['cls'],
                    bbox=ins['bbox'],
                    area=ins['area'],
                    iscrowd=0,
                    segmentation=ins['segmentation'],
                    color=ins['color']))
            ann_id += 1
        for q_idx, (q, a) in enumerate(qa):
            llava.append({
                'id': f'{split}_{idx}_{q_idx}',
                'image': fname,
                'conversations': [{
                    'from': 'human',
                    'value': f'<image>\n{q}'
                }, {
                    'from': 'gpt',
                    'value': a
                }]
            })

    keep = {im['file_name'] for im in images}
    _remove_stale(img_dir, keep)
    _remove_stale(sem_dir, keep)

    ann_dir = osp.join(out_dir, 'annotations')
    os.makedirs(ann_dir, exist_ok=True)
    coco = {
        'info': {
            'description': f'synthetic shapes ({split})',
            'version': GENERATOR_VERSION,
            'seed': seed
        },
        'licenses': [],
        'images': images,
        'annotations': annotations,
        'categories': [
            dict(id=i, name=n, supercategory='shape')
            for i, n in enumerate(CLASSES)
        ],
    }
    _dump_json(coco, osp.join(ann_dir, f'instances_{split}.json'))
    _dump_json(llava, osp.join(ann_dir, f'llava_{split}.json'))
    return dict(
        images=len(images),
        instances=len(annotations),
        questions=len(llava))


def build_meta(seed: int, num_train: int, num_val: int, min_size: int,
               max_size: int) -> Dict[str, Any]:
    """The ``meta.json`` content (also used to decide on cache hits)."""
    return {
        'name': 'shapes',
        'version': GENERATOR_VERSION,
        'seed': seed,
        'num_train': num_train,
        'num_val': num_val,
        'min_size': min_size,
        'max_size': max_size,
        'classes': list(CLASSES),
        'colors': {k: list(v) for k, v in COLORS.items()},
        'category_ids': {n: i for i, n in enumerate(CLASSES)},
        'semantic_labels': {
            '0': 'background',
            **{str(i + 1): n
               for i, n in enumerate(CLASSES)}
        },
        'label_convention': ('semantic PNG value = COCO category_id + 1; '
                             '0 = background'),
    }


def generate_shapes(out_dir: str,
                    num_train: int = 2000,
                    num_val: int = 200,
                    seed: int = 0,
                    min_size: int = 96,
                    max_size: int = 192,
                    progress: bool = True) -> Dict[str, Any]:
    """Generate the shapes dataset under ``out_dir``.

    Layout: ``images/{split}/NNNNNN.png`` (RGB), ``semantic/{split}/...``
    (uint8, 0 = background, class + 1), ``annotations/instances_{split}.json``
    (COCO), ``annotations/llava_{split}.json`` (LLaVA) and ``meta.json``.

    Returns:
        dict: ``{'train': {'images', 'instances', 'questions'}, 'val': {...},
        'out_dir', 'seed', 'version'}``.
    """
    if not 1 <= min_size <= max_size:
        raise ValueError(f'need 1 <= min_size <= max_size, got '
                         f'{min_size}, {max_size}')
    if min_size < 48:
        # Smaller images cannot hold a shape of >= MIN_VISIBLE_PX pixels.
        raise ValueError(f'min_size must be >= 48, got {min_size}')
    if num_train < 0 or num_val < 0:
        raise ValueError('num_train / num_val must be >= 0')
    os.makedirs(out_dir, exist_ok=True)
    meta_path = osp.join(out_dir, 'meta.json')
    # meta.json marks a complete dataset: drop it before rewriting so an
    # interrupted run is never mistaken for a finished one.
    if osp.exists(meta_path):
        os.remove(meta_path)

    summary: Dict[str, Any] = {}
    for split, num in zip(SPLITS, (num_train, num_val)):
        summary[split] = _generate_split(out_dir, split, num, seed, min_size,
                                         max_size, progress)
    meta = build_meta(seed, num_train, num_val, min_size, max_size)
    meta['summary'] = {s: summary[s] for s in SPLITS}
    with open(meta_path, 'w', encoding='utf-8') as f:
        json.dump(meta, f, indent=2)
    summary.update(out_dir=out_dir, seed=seed, version=GENERATOR_VERSION)
    return summary
