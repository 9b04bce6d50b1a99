"""Aspect-ratio augmentation that keeps every object whole."""
from typing import Optional, Sequence, Union

import mmcv
import numpy as np
from mmcv.transforms import BaseTransform
from mmcv.transforms.utils import cache_randomness
from mmdet.structures.mask import BitmapMasks

from llava_detseg.registry import TRANSFORMS


@TRANSFORMS.register_module()
class RandomAspectPad(BaseTransform):
    """Pad one side of the image by a random share of its length, so the
    fixed-size ``Resize(keep_ratio=False)`` after it squeezes the objects
    along that axis.

    A config that stretches every image to a square input (the shapes
    configs) sees objects distorted by the image's aspect ratio. Images of
    another aspect-ratio range distort them more than any training image
    did, and the detector misses them: on shapes drawn 64-256 pixels a side
    (training: 96-192) most of the boxes missed are in images wider or
    taller than 2:1. mmdet's crops would cut objects (and the counts the
    questions ask for); its ``Expand`` keeps the aspect ratio. This pads
    instead: every object stays whole and every question's answer stays
    true.

    Required keys: ``img``; optional ``gt_bboxes``, ``gt_seg_map``,
    ``gt_masks`` (bitmaps). Modified keys: ``img``, ``img_shape`` and those.

    Args:
        max_ratio (float): The padded side is at most this times its length
            (> 1).
        prob (float): Chance to pad an image at all.
        padding_mode (str): ``mmcv.impad``'s: ``'edge'`` (default) repeats
            the border, which on a plain background is more background;
            ``'constant'`` fills with ``pad_val``.
        pad_val (int | Sequence[int]): Fill of ``'constant'`` mode.
        seg_pad_val (int): The padded label-map pixels (255: ignored by the
            loss and the metric).
    """

    def __init__(self, max_ratio: float = 2.0, prob: float = 0.5,
                 padding_mode: str = 'edge',
                 pad_val: Union[int, Sequence[int]] = 0,
                 seg_pad_val: int = 255) -> None:
        if not max_ratio > 1:
            raise ValueError(f'RandomAspectPad: max_ratio must be > 1, got '
                             f'{max_ratio!r}')
        if not 0 <= prob <= 1:
            raise ValueError(f'RandomAspectPad: prob must be in [0, 1], got '
                             f'{prob!r}')
        if padding_mode not in ('constant', 'edge', 'reflect', 'symmetric'):
            raise ValueError('RandomAspectPad: padding_mode must be '
                             "'constant', 'edge', 'reflect' or 'symmetric', "
                             f'got {padding_mode!r}')
        self.max_ratio = float(max_ratio)
        self.prob = prob
        self.padding_mode = padding_mode
        self.pad_val = pad_val
        self.seg_pad_val = seg_pad_val

    @cache_randomness
    def _sample(self, h: int, w: int) -> Optional[tuple]:
        """``(left, top, right, bottom)`` pixels, or None (no padding)."""
        if np.random.rand() >= self.prob:
            return None
        axis = np.random.randint(2)  # 0: pad the width, 1: the height
        length = (w, h)[axis]
        extra = int(round(length * np.random.uniform(1, self.max_ratio))
                    ) - length
        if extra <= 0:
            return None
        before = np.random.randint(extra + 1)
        after = extra - before
        return (before, 0, after, 0) if axis == 0 else (0, before, 0, after)

    def transform(self, results: dict) -> dict:
        img = results['img']
        padding = self._sample(*img.shape[:2])
        if padding is None:
            return results
        pad_val = self.pad_val
        if isinstance(pad_val, int) and img.ndim == 3:
            pad_val = (pad_val, ) * img.shape[2]
        results['img'] = mmcv.impad(img, padding=padding, pad_val=pad_val,
                                    padding_mode=self.padding_mode)
        results['img_shape'] = results['img'].shape[:2]
        if results.get('gt_seg_map') is not None:
            results['gt_seg_map'] = mmcv.impad(
                results['gt_seg_map'], padding=padding,
                pad_val=self.seg_pad_val, padding_mode='constant')
        if results.get('gt_bboxes') is not None:
            results['gt_bboxes'].translate_(padding[:2])
        if results.get('gt_masks') is not None:
            if not isinstance(results['gt_masks'], BitmapMasks):
                raise ValueError(
                    'RandomAspectPad pads bitmap instance masks only: load '
                    'them with LoadAnnotations(with_mask=True, '
                    'poly2mask=True)')
            h, w = results['img_shape']
            results['gt_masks'] = results['gt_masks'].expand(
                h, w, padding[1], padding[0])
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(max_ratio={self.max_ratio}, '
                f'prob={self.prob}, padding_mode={self.padding_mode!r})')
