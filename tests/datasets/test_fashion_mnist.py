"""FashionMNISTDataset: idx-ubyte files, gzipped or not, counts checked."""
import gzip
import os
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.registry import init_default_scope

from image_level_files import idx_bytes, mnist_images, write_fashion_mnist
from llava_detseg.datasets import (FASHION_MNIST_CLASSES, DataError,
                                   FashionMNISTDataset, read_idx)

PIPELINE = [
    dict(type='LoadImageFromArray'),
    dict(type='mmdet.Resize', scale=(56, 56), keep_ratio=False),
    dict(type='PackMultiTaskInputs'),
]


def _dataset(root, **kwargs):
    init_default_scope('llava_detseg')
    return FashionMNISTDataset(data_root=root, pipeline=PIPELINE, **kwargs)


@pytest.mark.parametrize('gz', [True, False])
def test_both_splits_read_gzipped_or_not(tmp_path, gz):
    root = str(tmp_path)
    labels = write_fashion_mnist(root, num_train=4, num_test=3, gz=gz)
    train, test = _dataset(root), _dataset(root, split='test')
    assert (len(train), len(test)) == (4, 3)
    assert train.metainfo['classes'] == FASHION_MNIST_CLASSES
    assert [test.get_data_info(i)['gt_label'] for i in range(3)] == \
        labels['test']
    info = train.get_data_info(2)
    assert info['img'].shape == (28, 28) and info['img'][5, 5] == 2
    assert info['img'][0, 0] == 255


def test_gray_image_goes_to_three_channels_through_the_pipeline(tmp_path):
    write_fashion_mnist(str(tmp_path), num_train=4)
    out = _dataset(str(tmp_path))[3]
    img, sample = out['inputs'], out['data_samples']
    assert img.shape == (3, 56, 56)
    # the same value in every channel, upscaled with the rest
    assert img[:, 30, 30].tolist() == [3, 3, 3]
    assert torch.equal(img[0], img[1]) and torch.equal(img[1], img[2])
    assert torch.equal(sample.gt_label, torch.tensor([3]))
    assert sample.ori_shape == (28, 28)


def test_label_count_differing_from_images_is_named_or_skipped(tmp_path):
    root = str(tmp_path)
    write_fashion_mnist(root, num_train=5, num_labels=3, gz=True)
    label_file = osp.join(root, 'train-labels-idx1-ubyte.gz')
    with pytest.raises(DataError) as e:
        _dataset(root)
    msg = str(e.value)
    assert msg.startswith(label_file)
    assert 'sample 3, field "labels": 3 labels for the 5 images of ' \
        'train-images-idx3-ubyte.gz' in msg
    ds = _dataset(root, on_error='skip')
    assert len(ds) == 3 and ds.policy.skipped == {'unmatched sample': 2}


def test_label_outside_the_classes(tmp_path):
    root = str(tmp_path)
    write_fashion_mnist(root, num_train=3, gz=False)
    with open(osp.join(root, 'train-labels-idx1-ubyte'), 'wb') as f:
        f.write(idx_bytes(np.array([0, 12, 1], np.uint8)))
    with pytest.raises(DataError, match='train-labels-idx1-ubyte: sample 1, '
                       'field "labels": label 12'):
        _dataset(root)
    assert len(_dataset(root, on_error='skip')) == 2


def test_idx_faults_are_named(tmp_path):
    path = str(tmp_path / 'x-idx3-ubyte')
    good = idx_bytes(mnist_images(2))
    cases = [
        (good[:-5], 'field "data": holds 1563 bytes, its header says '
         '2 x 28 x 28 = 1568'),
        (b'\x01' + good[1:], 'field "magic": not an idx-ubyte file'),
        (good[:2] + b'\x0c' + good[3:], r'type code 0x0C \(>i4\)'),
        (good[:6], 'field "sizes": the file ends inside its header'),
        (gzip.compress(good)[:-9], 'field "file": broken gzip data'),
    ]
    for raw, message in cases:
        with open(path, 'wb') as f:
            f.write(raw)
        with pytest.raises(DataError, match=message):
            read_idx(path, 3)
    with open(path, 'wb') as f:
        f.write(good)
    with pytest.raises(DataError, match='3 dimensions, expected 1'):
        read_idx(path, 1)


def test_missing_file_names_both_forms(tmp_path):
    write_fashion_mnist(str(tmp_path), gz=True)
    os.remove(str(tmp_path / 't10k-labels-idx1-ubyte.gz'))
    with pytest.raises(DataError, match='t10k-labels-idx1-ubyte: field '
                       '"file": neither it nor t10k-labels-idx1-ubyte.gz'):
        _dataset(str(tmp_path), split='test')
