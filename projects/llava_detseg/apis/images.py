"""Reading a user's image: a path or an array, checked, as BGR uint8."""
import os.path as osp
from typing import Union

import mmcv
import numpy as np

IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff',
                    '.webp')
# beyond this the full-resolution masks of one image take gigabytes
MAX_PIXELS = 100_000_000


def load_image(image: Union[str, np.ndarray]) -> np.ndarray:
    """``image`` (a file path or an HxW[xC] array) as HxWx3 BGR uint8.

    Raises:
        FileNotFoundError: the path does not exist.
        ValueError: the file does not decode as an image, or the array is
            not an image (dtype, shape, size), named in the message.
    """
    if isinstance(image, str):
        if not osp.isfile(image):
            raise FileNotFoundError(f'image {image} does not exist')
        try:
            array = mmcv.imread(image, flag='color', channel_order='bgr')
        except Exception as e:  # a library error deep inside the decoder
            raise ValueError(f'image {image} cannot be read: {e}') from None
        if array is None:
            raise ValueError(f'image {image} is not an image file this '
                             'machine can decode (or it is truncated)')
        name = image
    elif isinstance(image, np.ndarray):
        array, name = image, 'the image array'
    else:
        raise TypeError('an image must be a file path or a numpy array, got '
                        f'{type(image).__name__}')
    if array.ndim == 2:
        array = np.repeat(array[..., None], 3, axis=2)
    if array.ndim != 3 or array.shape[2] not in (1, 3, 4):
        raise ValueError(f'{name} has shape {array.shape}; expected HxW, '
                         'HxWx3 or HxWx4')
    if array.shape[2] == 1:
        array = np.repeat(array, 3, axis=2)
    elif array.shape[2] == 4:
        array = array[..., :3]  # alpha dropped
    if array.dtype != np.uint8:
        if np.issubdtype(array.dtype, np.floating) and array.size and \
                array.max() <= 1.0:
            array = array * 255.0
        array = np.clip(array, 0, 255).astype(np.uint8)
    h, w = array.shape[:2]
    if h < 1 or w < 1:
        raise ValueError(f'{name} is empty ({h}x{w})')
    if h * w > MAX_PIXELS:
        raise ValueError(f'{name} is {w}x{h} = {h * w / 1e6:.0f} MP, above '
                         f'the {MAX_PIXELS / 1e6:.0f} MP limit; downscale it')
    return np.ascontiguousarray(array)
