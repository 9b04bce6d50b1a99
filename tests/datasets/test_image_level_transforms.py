"""LoadImageFromArray, SampleCaptions and the gt_label / captions packing."""
import numpy as np
import pytest
import torch

from llava_detseg.datasets import DataError
from llava_detseg.datasets.transforms import (LoadImageFromArray,
                                              PackMultiTaskInputs,
                                              SampleCaptions)


def test_arrays_become_bgr_three_channel_images():
    rgb = np.zeros((4, 5, 3), np.uint8)
    rgb[..., 0] = 9  # red
    out = LoadImageFromArray()(dict(img=rgb.copy(), img_id=0))
    assert out['img'].shape == (4, 5, 3) and out['img'][0, 0].tolist() == \
        [0, 0, 9]
    assert out['img_shape'] == out['ori_shape'] == (4, 5)
    bgr = LoadImageFromArray(channel_order='bgr')(dict(img=rgb.copy()))
    assert bgr['img'][0, 0].tolist() == [9, 0, 0]
    for gray in (np.full((3, 2), 7, np.uint8), np.full((3, 2, 1), 7,
                                                       np.uint8)):
        out = LoadImageFromArray()(dict(img=gray))
        assert out['img'].shape == (3, 2, 3) and (out['img'] == 7).all()
    out = LoadImageFromArray(to_float32=True)(dict(img=rgb))
    assert out['img'].dtype == np.float32


def test_bad_arrays_are_named_or_skipped():
    cases = [(np.zeros((4, 4), np.float32), 'expected a uint8 array, got '
              'float32'),
             (np.zeros((4, 4, 4), np.uint8), r'expected an \(H, W\) or \(H, W, '
              r'3\) array, got shape \(4, 4, 4\)')]
    for img, message in cases:
        with pytest.raises(DataError, match='batch_1: sample image id 3, '
                           'field "img": ' + message):
            LoadImageFromArray()(dict(img=img, img_id=3,
                                      img_source='batch_1'))
    skip = LoadImageFromArray(on_error='skip')
    assert skip(dict(img=cases[1][0], img_id=1)) is None
    assert skip.policy.skipped == {'image': 1}
    with pytest.raises(ValueError, match='channel_order'):
        LoadImageFromArray(channel_order='gray')


def test_sample_captions_keeps_order_and_count():
    np.random.seed(0)
    caps = [f'c{i}' for i in range(5)]
    seen = set()
    for _ in range(20):
        kept = SampleCaptions(num=2)(dict(captions=list(caps)))['captions']
        assert len(kept) == 2 and kept == sorted(kept, key=caps.index)
        seen.update(kept)
    assert seen == set(caps)
    assert SampleCaptions(num=9)(dict(captions=caps))['captions'] == caps
    with pytest.raises(ValueError, match='num must be >= 1'):
        SampleCaptions(num=0)


def test_pack_adds_gt_label_and_captions_only_when_present():
    img = np.zeros((4, 4, 3), np.uint8)
    base = dict(img=img, img_shape=(4, 4), ori_shape=(4, 4), img_id=0)
    packed = PackMultiTaskInputs()(dict(base, gt_label=7,
                                        captions=['a', 'b']))
    sample = packed['data_samples']
    assert sample.gt_label.dtype == torch.int64
    assert sample.gt_label.tolist() == [7] and sample.captions == ['a', 'b']
    plain = PackMultiTaskInputs()(dict(base))['data_samples']
    assert 'gt_label' not in plain and 'captions' not in plain
