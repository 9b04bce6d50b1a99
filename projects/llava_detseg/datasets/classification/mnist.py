"""Fashion-MNIST from its published idx-ubyte files (gzipped or not)."""
import gzip
import os.path as osp
from typing import Tuple

import numpy as np

from llava_detseg.registry import DATASETS
from ..errors import data_error, file_error
from .base import ImageClassificationDataset

FASHION_MNIST_CLASSES = ('T-shirt/top', 'Trouser', 'Pullover', 'Dress',
                         'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag',
                         'Ankle boot')
# idx type codes (the third magic byte) -> numpy dtype, big-endian
IDX_TYPES = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype('>i2'),
    0x0C: np.dtype('>i4'),
    0x0D: np.dtype('>f4'),
    0x0E: np.dtype('>f8'),
}


def find_idx_file(root: str, name: str) -> str:
    """``root/name`` or ``root/name.gz``, whichever exists (the first if
    both do); a :class:`DataError` naming both if neither does."""
    for path in (osp.join(root, name), osp.join(root, name + '.gz')):
        if osp.isfile(path):
            return path
    raise file_error(osp.join(root, name), 'file',
                     f'neither it nor {name}.gz exists', 'idx.missing file')


def read_idx(path: str, ndim: int) -> np.ndarray:
    """An idx-ubyte file (Yann LeCun's MNIST format) as a uint8 array.

    Follows mmpretrain's ``read_sn3_pascalvincent_tensor``
    (``mmpretrain/datasets/mnist.py``, v1.2.0): magic ``0x0000TTDD`` (type
    code, number of dimensions), ``DD`` big-endian int32 sizes, then the
    data. gzip is detected by its magic bytes, not the name. Where mmpretrain
    asserts (or, ``strict=False``, reads a truncated file silently), every
    fault is a :class:`DataError` naming the file and the field.
    """
    with open(path, 'rb') as f:
        raw = f.read()
    if raw[:2] == b'\x1f\x8b':
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as e:
            raise file_error(path, 'file', f'broken gzip data ({e})',
                             'idx.unreadable') from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise file_error(path, 'magic', 'not an idx-ubyte file (the first '
                         'two bytes must be zero)', 'idx.magic')
    code, dims = raw[2], raw[3]
    if code != 0x08:
        kind = IDX_TYPES.get(code)
        raise file_error(path, 'magic', f'type code 0x{code:02X} '
                         f'({kind or "unknown"}); Fashion-MNIST is unsigned '
                         'bytes (0x08)', 'idx.magic')
    if dims != ndim:
        raise file_error(path, 'magic', f'{dims} dimensions, expected '
                         f'{ndim}', 'idx.magic')
    header = 4 + 4 * dims
    if len(raw) < header:
        raise file_error(path, 'sizes', 'the file ends inside its header',
                         'idx.truncated')
    shape = tuple(int.from_bytes(raw[4 + 4 * i:8 + 4 * i], 'big')
                  for i in range(dims))
    expected = int(np.prod(shape))
    if len(raw) - header != expected:
        raise file_error(path, 'data', f'holds {len(raw) - header} bytes, '
                         f'its header says {" x ".join(map(str, shape))} = '
                         f'{expected}', 'idx.truncated')
    return np.frombuffer(raw, np.uint8, offset=header).reshape(shape)


@DATASETS.register_module()
class FashionMNISTDataset(ImageClassificationDataset):
    """`Fashion-MNIST <https://github.com/zalandoresearch/fashion-mnist>`_
    read from its four published files, never downloaded.

    Follows mmpretrain's ``FashionMNIST`` (``mmpretrain/datasets/mnist.py``,
    v1.2.0), which does not import with this toolchain: the same file names
    (``train-*`` for ``train``, ``t10k-*`` for ``test``), class names and
    samples (``img``: ``(28, 28)`` uint8 gray, which ``LoadImageFromArray``
    repeats to three channels, and ``gt_label``). Files are read gzipped
    (as published) or unpacked. An image file and a label file of different
    counts is a :class:`DataError` naming the label file, the first
    unmatched sample and the field, or with ``on_error='skip'`` the
    unmatched samples are counted and left out.

    Args:
        data_root (str): Folder of the ``*-idx?-ubyte[.gz]`` files.
        split (str): ``'train'`` or ``'test'``.
        **kwargs: :class:`ImageClassificationDataset` arguments.
    """

    METAINFO = dict(classes=FASHION_MNIST_CLASSES)
    files = dict(
        train=('train-images-idx3-ubyte', 'train-labels-idx1-ubyte'),
        test=('t10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte'))

    def load_samples(self) -> Tuple[list, list, list]:
        """The split's images and labels, their counts matched."""
        image_name, label_name = self.files[self.split]
        # a fault in either file leaves no sample to keep: always raised
        image_file = find_idx_file(self.data_root, image_name)
        label_file = find_idx_file(self.data_root, label_name)
        images = read_idx(image_file, 3)
        labels = read_idx(label_file, 1)
        if len(images) != len(labels):
            n = min(len(images), len(labels))
            self.policy(
                data_error(label_file, f'{n}', 'labels',
                           f'{len(labels)} labels for the {len(images)} '
                           f'images of {osp.basename(image_file)} (one '
                           'label per image, in order)', 'idx.count'),
                'unmatched sample', count=abs(len(images) - len(labels)))
            images, labels = images[:n], labels[:n]
        sources = [(image_file, label_file, k) for k in range(len(images))]
        return list(images), labels.tolist(), sources
