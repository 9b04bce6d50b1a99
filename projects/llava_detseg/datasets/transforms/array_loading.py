"""Images that a dataset holds in memory (CIFAR batches, idx-ubyte files)."""
from typing import Optional

import numpy as np
from mmcv.transforms import BaseTransform

from llava_detseg.registry import TRANSFORMS
from ..errors import ErrorPolicy, data_error

CHANNEL_ORDERS = ('rgb', 'bgr')


def _sample(results: dict) -> str:
    return f'image id {results.get("img_id")}'


@TRANSFORMS.register_module()
class LoadImageFromArray(BaseTransform):
    """Turn the sample's ``img`` array into the image ``LoadImageWithCheck``
    would have decoded: ``uint8``, ``(H, W, 3)``, BGR.

    The classification datasets keep their images as arrays, as mmpretrain's
    ``CIFAR10`` and ``FashionMNIST`` do (RGB for CIFAR, one gray channel for
    Fashion-MNIST). Every later step (``mmdet.Resize``, the data
    preprocessor's ``bgr_to_rgb`` and CLIP normalisation) expects what the
    file loader gives, so gray images are repeated to three channels and RGB
    is flipped to BGR here, once, and a 28x28 digit goes through the same
    preprocessing as a COCO photo. Sets ``img_shape`` and ``ori_shape``.

    Args:
        channel_order (str): Order of a 3-channel ``img`` array, ``'rgb'``
            (CIFAR's) or ``'bgr'``.
        to_float32 (bool): Cast to ``float32`` as mmcv's loader can.
        on_error (str): ``'raise'`` or ``'skip'`` an array that is not an
            image (wrong dtype or number of channels).
    """

    def __init__(self,
                 channel_order: str = 'rgb',
                 to_float32: bool = False,
                 on_error: str = 'raise') -> None:
        if channel_order not in CHANNEL_ORDERS:
            raise ValueError(f'LoadImageFromArray: channel_order must be one '
                             f'of {CHANNEL_ORDERS}, got {channel_order!r}')
        self.channel_order = channel_order
        self.to_float32 = to_float32
        self.policy = ErrorPolicy(on_error, type(self).__name__)

    def transform(self, results: dict) -> Optional[dict]:
        img = np.asarray(results.get('img'))
        source = results.get('img_source', type(self).__name__)
        problem = None
        if img.dtype != np.uint8:
            problem = f'expected a uint8 array, got {img.dtype}'
        elif img.ndim == 3 and img.shape[2] == 1:
            img = img[..., 0]
        if problem is None and not (img.ndim == 2 or
                                    (img.ndim == 3 and img.shape[2] == 3)):
            problem = (f'expected an (H, W) or (H, W, 3) array, got shape '
                       f'{tuple(img.shape)}')
        if problem:
            self.policy(data_error(source, _sample(results), 'img', problem,
                                   'image.array'), 'image')
            return None
        if img.ndim == 2:
            img = np.repeat(img[..., None], 3, axis=2)
        elif self.channel_order == 'rgb':
            img = img[..., ::-1]
        img = np.ascontiguousarray(img)
        if self.to_float32:
            img = img.astype(np.float32)
        results['img'] = img
        results['img_shape'] = img.shape[:2]
        results['ori_shape'] = img.shape[:2]
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(channel_order={self.channel_order!r}, '
                f'to_float32={self.to_float32})')
