"""ADE20KSegDataset: mmseg's ADE20K with the project's sample fields."""
import os
import os.path as osp

import numpy as np
import pytest
from mmengine.registry import init_default_scope

from llava_detseg.datasets import ADE20KSegDataset, DataError
from sample_datasets import write_ade

PIPELINE = [
    dict(type='LoadImageWithCheck'),
    dict(type='mmseg.LoadAnnotations'),
    dict(type='mmdet.Resize', scale=(64, 64), keep_ratio=False),
    dict(type='PackMultiTaskInputs'),
]


def _dataset(base, **kwargs):
    init_default_scope('llava_detseg')
    return ADE20KSegDataset(
        data_root=base,
        data_prefix=dict(img_path='images/validation',
                         seg_map_path='annotations/validation'),
        pipeline=PIPELINE, **kwargs)


def test_samples_serve_seg_with_reduced_labels(tmp_path):
    base = write_ade(str(tmp_path))
    ds = _dataset(base)
    assert len(ds) == 3
    assert len(ds.metainfo['seg_classes']) == 150
    assert ds.metainfo['seg_classes'][0] == 'wall'
    out = ds[0]
    sample = out['data_samples']
    assert sample.tasks == ['seg'] and sample.conversations == []
    assert sample.img_id == 'ADE_val_00000001'
    labels = sample.gt_sem_seg.data
    assert labels.dtype.is_floating_point is False and labels.ndim == 3
    # 0 "other" -> 255, 1 -> 0, 2 -> 1, 150 -> 149
    assert set(np.unique(labels.numpy())) == {255, 0, 1, 149}
    assert len(sample.gt_instances) == 0


def test_missing_map_is_named(tmp_path):
    base = write_ade(str(tmp_path))
    gone = osp.join(base, 'annotations', 'validation', 'ADE_val_00000002.png')
    os.remove(gone)
    with pytest.raises(DataError, match='ADE_val_00000002.png'):
        _dataset(base)
    ds = _dataset(base, on_error='skip')
    assert len(ds) == 2


def test_missing_folder_is_named(tmp_path):
    with pytest.raises(DataError, match='image folder not found'):
        _dataset(str(tmp_path / 'nowhere'))
