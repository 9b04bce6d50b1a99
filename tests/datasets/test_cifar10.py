"""CIFAR10Dataset: the published pickle batches, decoded and checked."""
import os
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.registry import init_default_scope

from image_level_files import (cifar_batch, cifar_image, write_cifar10,
                               write_pickle)
from llava_detseg.datasets import CIFAR10_CLASSES, CIFAR10Dataset, DataError

PIPELINE = [
    dict(type='LoadImageFromArray'),
    dict(type='mmdet.Resize', scale=(64, 64), keep_ratio=False),
    dict(type='PackMultiTaskInputs'),
]


@pytest.fixture
def root(tmp_path):
    root = str(tmp_path / 'cifar10')
    write_cifar10(root, per_batch=2)
    return root


def _dataset(root, **kwargs):
    init_default_scope('llava_detseg')
    return CIFAR10Dataset(data_root=root, pipeline=PIPELINE, **kwargs)


def _batch_path(root, name):
    return osp.join(root, 'cifar-10-batches-py', name)


def test_splits_decode_images_and_labels(root):
    train, test = _dataset(root), _dataset(root, split='test',
                                           test_mode=True)
    assert len(train) == 10 and len(test) == 2
    assert train.metainfo['classes'] == CIFAR10_CLASSES
    info = train.get_data_info(3)
    # channel-major rows back to HWC RGB, in file order
    np.testing.assert_array_equal(info['img'], cifar_image(3))
    assert info['gt_label'] == 3 and info['tasks'] == ['cls']
    assert train.get_cat_ids(3) == [3]
    assert [test.get_data_info(i)['gt_label'] for i in range(2)] == [0, 1]


def test_pipeline_gives_a_bgr_three_channel_image_and_gt_label(root):
    out = _dataset(root)[5]
    img, sample = out['inputs'], out['data_samples']
    assert img.shape == (3, 64, 64) and img.dtype == torch.uint8
    # BGR as LoadImageWithCheck decodes files: B = 200, G = 100, R = index
    centre = img[:, 32, 32].tolist()
    assert centre == [200, 100, 5]
    assert torch.equal(sample.gt_label, torch.tensor([5]))
    assert sample.tasks == ['cls'] and sample.ori_shape == (32, 32)
    assert sample.img_shape == (64, 64)


def test_question_adds_a_conversation_naming_the_class(root):
    ds = _dataset(root, question='What is in this image?')
    info = ds.get_data_info(2)
    assert info['tasks'] == ['cls', 'vqa']
    human, gpt = info['conversations'][0]
    assert human == {'from': 'human',
                     'value': '<image>\nWhat is in this image?'}
    assert gpt == {'from': 'gpt', 'value': 'bird'}


def test_batch_of_the_wrong_shape_is_named_or_skipped(root):
    path = _batch_path(root, 'data_batch_2')
    bad = cifar_batch([0, 1], [0, 1], 'training batch 2 of 5')
    bad['data'] = bad['data'][:, :3000]
    write_pickle(path, bad)
    with pytest.raises(DataError) as e:
        _dataset(root)
    msg = str(e.value)
    assert msg.startswith(path) and "batch 'training batch 2 of 5'" in msg
    assert 'field "data"' in msg and '(2, 3000)' in msg
    ds = _dataset(root, on_error='skip')
    assert len(ds) == 8 and ds.policy.skipped == {'batch file': 1}


def test_label_count_and_range_faults(root):
    path = _batch_path(root, 'data_batch_1')
    bad = cifar_batch([0, 1], [0], 'b1')
    write_pickle(path, bad)
    with pytest.raises(DataError, match='field "labels": 1 labels for 2'):
        _dataset(root)
    write_pickle(path, cifar_batch([0, 1], [0, 1], 'b1'))
    # the sample's index in its own file (the split's index would be 3)
    second = _batch_path(root, 'data_batch_2')
    write_pickle(second, cifar_batch([2, 3], [2, 10], 'b2'))
    with pytest.raises(DataError, match=rf'{second}: sample 1, field '
                       r'"labels": label 10 is not a class index 0\.\.9'):
        _dataset(root)
    ds = _dataset(root, on_error='skip')
    assert len(ds) == 9 and ds.policy.skipped == {'sample': 1}


def test_unreadable_missing_and_meta_faults(root):
    path = _batch_path(root, 'test_batch')
    with open(path, 'wb') as f:
        f.write(b'not a pickle')
    with pytest.raises(DataError, match='test_batch: field "file": not a '
                       'CIFAR python pickle'):
        _dataset(root, split='test')
    write_pickle(path, [1, 2])
    with pytest.raises(DataError, match='expected a pickled dict, got list'):
        _dataset(root, split='test')
    # the only test batch skipped: nothing left is an error too
    with pytest.raises(DataError, match='no usable test sample'):
        _dataset(root, split='test', on_error='skip')
    os.remove(_batch_path(root, 'data_batch_3'))
    ds = _dataset(root, on_error='skip')
    assert len(ds) == 8 and ds.policy.skipped == {'batch file': 1}
    with pytest.raises(DataError, match='data_batch_1: field "file": does '
                       'not exist'):
        CIFAR10Dataset(data_root=root + '_none', pipeline=[])
    write_pickle(_batch_path(root, 'batches.meta'),
                 {'label_names': ['a', 'b']})
    with pytest.raises(DataError, match='"label_names": names 2 classes'):
        _dataset(root)


def test_bytes_keys_as_python3_pickles_them(root):
    path = _batch_path(root, 'test_batch')
    batch = cifar_batch([7, 8], [1, 2])
    write_pickle(path, {k.encode(): v for k, v in batch.items()})
    ds = _dataset(root, split='test')
    assert [ds.get_data_info(i)['gt_label'] for i in range(2)] == [1, 2]


def test_bad_split_and_root():
    with pytest.raises(ValueError, match='split must be one of'):
        CIFAR10Dataset(data_root='x', split='val')
    with pytest.raises(ValueError, match='data_root'):
        CIFAR10Dataset(split='train')
