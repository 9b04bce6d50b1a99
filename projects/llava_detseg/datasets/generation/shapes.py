"""Deterministic synthetic "shapes" dataset (the project's default data).

Every image holds 1-5 coloured circles / squares / triangles on a muted
background. For each split the generator writes RGB images, a semantic label
map, COCO instance annotations (visible-region polygons) and LLaVA-style
question / answer pairs, all derived from one painted instance map so that the
three label types agree pixel for pixel. The parts: ``shapes_image.py`` (one
image and its polygons), ``shapes_questions.py`` (its questions), this module
(splits, files, ``meta.json``).

Only numpy, OpenCV and the standard library are used (pycocotools is needed
only by the tests), so the generator runs without torch / mmengine.
"""
from __future__ import annotations

import json
import os
import os.path as osp
import re
from typing import Any, Dict, Optional, Tuple

import cv2
import numpy as np

from .shapes_image import CLASSES, COLORS, generate_image
from .shapes_questions import PLURALS, make_questions

try:  # tqdm is optional: without it there simply is no progress bar.
    from tqdm import tqdm
except ImportError:  # pragma: no cover
    tqdm = None

__all__ = [
    'CLASSES', 'COLORS', 'GENERATOR_VERSION', 'SPLITS', 'PLURALS',
    'generate_shapes', 'generate_image', 'make_questions', 'build_meta'
]

# Bump whenever the output for a given seed changes, so cached datasets
# (checked through ``meta.json``) are regenerated.
GENERATOR_VERSION = '1.1.0'  # 1.1: yes/no answers independent

# Split index is part of every image's RNG seed: the val set is independent
# of ``num_train``.
SPLITS: Tuple[str, ...] = ('train', 'val')

_FILE_RE = re.compile(r'^\d{6,}\.png$')


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
                    progress: bool,
                    bg_gray: Optional[Tuple[float, float]] = None
                    ) -> Dict[str, int]:
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
        img, sem, instances = generate_image(rng, min_size, max_size, bg_gray)
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
               max_size: int,
               bg_gray: Optional[Tuple[float, float]] = None
               ) -> Dict[str, Any]:
    """The ``meta.json`` content (also used to decide on cache hits)."""
    return {
        'name': 'shapes',
        'version': GENERATOR_VERSION,
        'seed': seed,
        'num_train': num_train,
        'num_val': num_val,
        'min_size': min_size,
        'max_size': max_size,
        'bg_gray': None if bg_gray is None else [float(v) for v in bg_gray],
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
                    progress: bool = True,
                    bg_gray: Optional[Tuple[float, float]] = None
                    ) -> Dict[str, Any]:
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
    if bg_gray is not None and not (
            len(bg_gray) == 2 and 0 <= bg_gray[0] <= bg_gray[1] <= 255):
        raise ValueError(f'bg_gray must be (lo, hi) with 0 <= lo <= hi <= '
                         f'255, got {bg_gray!r}')
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
                                         max_size, progress, bg_gray)
    meta = build_meta(seed, num_train, num_val, min_size, max_size, bg_gray)
    meta['summary'] = {s: summary[s] for s in SPLITS}
    with open(meta_path, 'w', encoding='utf-8') as f:
        json.dump(meta, f, indent=2)
    summary.update(out_dir=out_dir, seed=seed, version=GENERATOR_VERSION)
    return summary
