"""CIFAR-10 from its published python pickle batches."""
import os.path as osp
import pickle
from typing import Any, List, Optional, Tuple

import numpy as np

from llava_detseg.registry import DATASETS
from ..errors import DataError, data_error, file_error
from .base import ImageClassificationDataset

CIFAR10_CLASSES = ('airplane', 'automobile', 'bird', 'cat', 'deer', 'dog',
                   'frog', 'horse', 'ship', 'truck')
PIXELS = 3 * 32 * 32


def _str_keys(entry: dict) -> dict:
    """Keys as str: the batches were pickled by Python 2; read with
    ``encoding='bytes'`` (or re-pickled so) they come back as bytes."""
    return {k.decode('latin1') if isinstance(k, bytes) else k: v
            for k, v in entry.items()}


@DATASETS.register_module()
class CIFAR10Dataset(ImageClassificationDataset):
    """`CIFAR-10 <https://www.cs.toronto.edu/~kriz/cifar.html>`_ read from
    ``cifar-10-python.tar.gz`` as unpacked, never downloaded.

    Follows mmpretrain's ``CIFAR10`` (``mmpretrain/datasets/cifar.py``,
    v1.2.0), which does not import with this toolchain: the same files
    (``{data_root}/cifar-10-batches-py/data_batch_1..5`` for ``train``,
    ``test_batch`` for ``test``), the same decoding (each row of ``data``
    is 3072 bytes, channel-major, reshaped to ``(3, 32, 32)`` and
    transposed to HWC RGB), the same class names, and samples with ``img``
    and ``gt_label``. Unlike mmpretrain it checks what it reads: a batch
    that is not a pickled dict, whose ``data`` is not ``uint8 (N, 3072)``,
    whose ``labels`` do not count ``N``, or a label outside the classes is
    a :class:`DataError` naming the file, the sample and the field, or a
    counted skip (``on_error='skip'``: the whole batch for a file-level
    fault). ``batches.meta``, when present, must name as many classes.

    Args:
        data_root (str): Folder holding ``cifar-10-batches-py/``.
        split (str): ``'train'`` or ``'test'``.
        **kwargs: :class:`ImageClassificationDataset` arguments
            (``question``, ``on_error``, ``pipeline``...).
    """

    METAINFO = dict(classes=CIFAR10_CLASSES)
    base_folder = 'cifar-10-batches-py'
    train_list = [f'data_batch_{i}' for i in range(1, 6)]
    test_list = ['test_batch']
    meta_file = 'batches.meta'
    meta_key = 'label_names'
    label_key = 'labels'

    def load_samples(self) -> Tuple[list, list, list]:
        """Every image and label of the split's batches, in file order."""
        self._check_meta()
        names = self.train_list if self.split == 'train' else self.test_list
        images: List[np.ndarray] = []
        labels: List[int] = []
        sources: List[tuple] = []
        for name in names:
            path = osp.join(self.data_root, self.base_folder, name)
            batch = self._read_batch(path)
            if batch is None:
                continue
            data, batch_labels = batch
            # channel-major rows -> HWC, as mmpretrain and torchvision do
            imgs = data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
            images.extend(imgs)
            labels.extend(int(x) for x in batch_labels)
            sources.extend((path, path, k) for k in range(len(imgs)))
        return images, labels, sources

    def _read_batch(self, path: str) -> Optional[Tuple[np.ndarray, list]]:
        """``(data, labels)`` of one batch file, checked; ``None`` if it is
        skipped."""
        try:
            entry = self._unpickle(path, 'data')
        except DataError as error:  # missing or unreadable: the policy's
            self.policy(error, 'batch file')
            return None
        sample = f'batch {entry.get("batch_label", osp.basename(path))!r}'
        problem = None
        field = 'data'
        data = entry.get('data')
        labels = entry.get(self.label_key)
        if not isinstance(data, np.ndarray):
            problem = ('missing' if data is None else
                       f'expected a numpy array, got {type(data).__name__}')
        elif data.dtype != np.uint8 or data.ndim != 2 or \
                data.shape[1] != PIXELS:
            problem = (f'expected a uint8 array of shape (N, {PIXELS}) '
                       '(N images of 3x32x32, channel-major), got '
                       f'{data.dtype} of shape {tuple(data.shape)}')
        elif not isinstance(labels, (list, tuple, np.ndarray)):
            field = self.label_key
            problem = 'missing' if labels is None else \
                f'expected a list of class indices, got {type(labels).__name__}'
        elif len(labels) != len(data):
            field = self.label_key
            problem = (f'{len(labels)} labels for {len(data)} images '
                       '(one label per row of "data")')
        if problem:
            self.policy(data_error(path, sample, field, problem,
                                   f'cifar.{field}'), 'batch file')
            return None
        return data, list(labels)

    @staticmethod
    def _unpickle(path: str, field: str) -> Any:
        """A batch or meta file as a dict with str keys, or a DataError."""
        if not osp.isfile(path):
            raise file_error(path, 'file', 'does not exist (unpack '
                             'cifar-10-python.tar.gz into data_root)',
                             'cifar.missing file')
        try:
            with open(path, 'rb') as f:
                entry = pickle.load(f, encoding='latin1')
        except Exception as e:  # noqa: BLE001 - any unpickling failure
            raise file_error(path, 'file', 'not a CIFAR python pickle '
                             f'({type(e).__name__}: {e})',
                             'cifar.unreadable') from None
        if not isinstance(entry, dict):
            raise file_error(path, field, 'expected a pickled dict, got '
                             f'{type(entry).__name__}', 'cifar.unreadable')
        return _str_keys(entry)

    def _check_meta(self) -> None:
        """``batches.meta`` (if present) names as many classes as used."""
        path = osp.join(self.data_root, self.base_folder, self.meta_file)
        if not osp.isfile(path):
            return
        names = self._unpickle(path, self.meta_key).get(self.meta_key)
        classes = self._metainfo['classes']
        if not isinstance(names, (list, tuple)) or len(names) != len(classes):
            got = len(names) if isinstance(names, (list, tuple)) else names
            raise file_error(
                path, self.meta_key,
                f'names {got} classes, the dataset uses {len(classes)} '
                f'({", ".join(classes)})', 'cifar.label_names')
