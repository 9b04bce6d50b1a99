"""Tiny CIFAR-10, Fashion-MNIST and Flickr8k trees in the published formats.

The writers produce what the authors' archives unpack to: CIFAR's Python
pickle batches (``data`` uint8 ``(N, 3072)`` channel-major, ``labels``),
idx-ubyte files (magic ``0x0000TTDD``, big-endian sizes, then bytes),
Flickr8k's ``image.jpg#n<TAB>caption`` lines, split lists and JPEG folder.
Pixel values encode the sample index so tests can check decoding.
"""
import gzip
import os
import os.path as osp
import pickle
import struct
from typing import Dict, List, Optional, Sequence

import numpy as np


def cifar_image(index: int) -> np.ndarray:
    """The HWC RGB image of sample ``index``: R = index, G = 100, B = 200,
    and a bright top-left pixel (to check the orientation)."""
    img = np.empty((32, 32, 3), np.uint8)
    img[..., 0], img[..., 1], img[..., 2] = index % 256, 100, 200
    img[0, 0] = 255
    return img


def cifar_batch(indices: Sequence[int], labels: Sequence[int],
                name: str = 'batch') -> dict:
    """One batch dict as the published pickles hold it."""
    imgs = np.stack([cifar_image(i) for i in indices])
    data = imgs.transpose(0, 3, 1, 2).reshape(len(indices), -1)
    return {'batch_label': name, 'labels': list(labels), 'data': data,
            'filenames': [f'img_{i}.png' for i in indices]}


def write_pickle(path: str, obj) -> str:
    os.makedirs(osp.dirname(path), exist_ok=True)
    with open(path, 'wb') as f:
        pickle.dump(obj, f)
    return path


def write_cifar10(root: str, per_batch: int = 2,
                  num_classes: int = 10) -> Dict[str, List[int]]:
    """``root/cifar-10-batches-py/`` with 5 train batches, a test batch and
    ``batches.meta``; returns each split's labels in order."""
    folder = osp.join(root, 'cifar-10-batches-py')
    labels: Dict[str, List[int]] = dict(train=[], test=[])
    k = 0
    for name in [f'data_batch_{i}' for i in range(1, 6)] + ['test_batch']:
        split = 'test' if name == 'test_batch' else 'train'
        idx = list(range(k, k + per_batch))
        labs = [i % num_classes for i in idx]
        write_pickle(osp.join(folder, name), cifar_batch(idx, labs, name))
        labels[split] += labs
        k += per_batch
    write_pickle(osp.join(folder, 'batches.meta'), {
        'label_names': [f'class{i}' for i in range(num_classes)],
        'num_cases_per_batch': per_batch, 'num_vis': 3072})
    return labels


def idx_bytes(array: np.ndarray) -> bytes:
    """An uint8 array in the idx-ubyte format."""
    head = struct.pack('>BBBB', 0, 0, 0x08, array.ndim)
    head += b''.join(struct.pack('>I', s) for s in array.shape)
    return head + np.ascontiguousarray(array, np.uint8).tobytes()


def write_idx(path: str, array: np.ndarray, gz: bool = False) -> str:
    os.makedirs(osp.dirname(path), exist_ok=True)
    raw = idx_bytes(array)
    path = path + '.gz' if gz else path
    with open(path, 'wb') as f:
        f.write(gzip.compress(raw) if gz else raw)
    return path


def mnist_images(n: int, start: int = 0) -> np.ndarray:
    """``n`` gray 28x28 images; pixel value = sample index, a bright corner."""
    imgs = np.zeros((n, 28, 28), np.uint8)
    for i in range(n):
        imgs[i] = (start + i) % 256
        imgs[i, 0, 0] = 255
    return imgs


def write_fashion_mnist(root: str, num_train: int = 4, num_test: int = 3,
                        gz: bool = True,
                        num_labels: Optional[int] = None) -> dict:
    """The four files; ``num_labels`` (if set) writes that many train
    labels instead of one per image. Returns each split's labels."""
    out = {}
    for split, prefix, n in (('train', 'train', num_train),
                             ('test', 't10k', num_test)):
        labels = np.arange(n, dtype=np.uint8) % 10
        if split == 'train' and num_labels is not None:
            labels = np.arange(num_labels, dtype=np.uint8) % 10
        write_idx(osp.join(root, f'{prefix}-images-idx3-ubyte'),
                  mnist_images(n), gz)
        write_idx(osp.join(root, f'{prefix}-labels-idx1-ubyte'), labels, gz)
        out[split] = labels.tolist()
    return out


FLICKR_SPLITS = dict(train=['a.jpg', 'b.jpg', 'c.jpg'], dev=['d.jpg'],
                     test=['e.jpg', 'f.jpg'])


def flickr_caption(name: str, n: int) -> str:
    return f'caption {n} of {name} .'


def write_flickr8k(root: str, splits: Optional[dict] = None,
                   captions_per_image: int = 5,
                   extra_lines: Sequence[str] = (),
                   skip_images: Sequence[str] = ()) -> str:
    """``Flickr8k.token.txt``, the split lists and ``Flicker8k_Dataset/``
    (one 8x8 JPEG per image except ``skip_images``); ``extra_lines`` are
    appended to the caption file. Returns ``root``."""
    from PIL import Image
    splits = FLICKR_SPLITS if splits is None else splits
    folder = osp.join(root, 'Flicker8k_Dataset')
    os.makedirs(folder, exist_ok=True)
    lines = []
    for split, names in splits.items():
        with open(osp.join(root, f'Flickr_8k.{split}Images.txt'), 'w') as f:
            f.write(''.join(f'{n}\n' for n in names))
        for k, name in enumerate(names):
            # published order is by image, captions #0..#4
            lines += [f'{name}#{n}\t{flickr_caption(name, n)}'
                      for n in range(captions_per_image)]
            if name not in skip_images:
                Image.new('RGB', (8, 6), (10 * k, 20, 30)).save(
                    osp.join(folder, name))
    with open(osp.join(root, 'Flickr8k.token.txt'), 'w') as f:
        f.write('\n'.join(lines + list(extra_lines)) + '\n')
    return root
