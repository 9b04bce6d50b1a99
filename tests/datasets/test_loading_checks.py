"""CheckSemanticMap and LoadImageWithCheck's size check in real pipelines,
on the faults a user met (each was silent or an IndexError before)."""
import json
import os.path as osp
import shutil

import numpy as np
import pytest
from mmengine.registry import init_default_scope
from PIL import Image

from llava_detseg.datasets import ADE20KSegDataset, DataError
from llava_detseg.registry import DATASETS
from sample_datasets import write_ade


@pytest.fixture
def root(shapes_root, tmp_path):
    """A private copy of the generated shapes data."""
    dst = str(tmp_path / 'shapes')
    shutil.copytree(shapes_root, dst)
    return dst


def _build(cfg, root, split='train', on_error='raise'):
    init_default_scope('llava_detseg')
    ds = cfg[f'{split}_dataloader'].dataset.copy()
    ds.update(data_root=root, on_error=on_error)
    for step in ds.pipeline:
        if step['type'] in ('LoadImageWithCheck', 'CheckSemanticMap'):
            step['on_error'] = on_error
    dataset = DATASETS.build(ds)
    dataset._rand_another = lambda: 0  # refetch a known good sample
    return dataset


def _step(dataset, name):
    return next(t for t in dataset.pipeline.transforms
                if type(t).__name__ == name)


def _map(root, k=1, split='train'):
    return osp.join(root, 'semantic', split, f'{k:06d}.png')


def _rewrite_map(path, change):
    labels = np.asarray(Image.open(path)).copy()
    change(labels).save(path)


@pytest.mark.parametrize('split', ['train', 'val'])
def test_map_of_another_size_is_named(cfg, root, split):
    path = _map(root, 1, split)
    _rewrite_map(path, lambda a: Image.fromarray(a[:-5]))
    dataset = _build(cfg, root, split)
    with pytest.raises(DataError) as err:
        dataset[1]
    msg = str(err.value)
    assert msg.startswith(path) and '"seg_map_path"' in msg
    assert 'image id 1' in msg and 'its image' in msg


def test_labels_above_the_classes_are_named_with_their_values(cfg, root):
    path = _map(root, 2)
    _rewrite_map(path, lambda a: Image.fromarray(
        np.where(np.arange(a.size).reshape(a.shape) < 7, 200, a)
        .astype(np.uint8)))
    dataset = _build(cfg, root)
    with pytest.raises(DataError, match=r'labels \[200\] \(7 pixels\)'):
        dataset[2]
    skipping = _build(cfg, root, on_error='skip')
    item = skipping[2]  # skipped: the good sample 0 instead
    assert item['data_samples'].img_path.endswith('000000.png')
    assert _step(skipping, 'CheckSemanticMap').policy.skipped == {'image': 1}


def test_rgb_map_is_named(cfg, root):
    path = _map(root, 0)
    _rewrite_map(path, lambda a: Image.fromarray(np.stack([a] * 3, -1)))
    with pytest.raises(DataError, match='got mode RGB'):
        _build(cfg, root)[0]


def test_image_of_another_size_than_its_entry(cfg, root):
    ann = osp.join(root, 'annotations', 'instances_train.json')
    data = json.load(open(ann))
    data['images'][3]['width'] += 4
    json.dump(data, open(ann, 'w'))
    dataset = _build(cfg, root)
    with pytest.raises(DataError) as err:
        dataset[3]
    assert '"width/height"' in str(err.value)
    assert f'width {data["images"][3]["width"]}' in str(err.value)


def test_a_clean_sample_passes_every_check(cfg, shapes_root):
    dataset = _build(cfg, shapes_root)
    for k in range(3):
        assert dataset[k]['data_samples'].gt_sem_seg.data.max() <= 3
    assert not _step(dataset, 'CheckSemanticMap').policy.skipped


ADE_PIPELINE = [
    dict(type='LoadImageWithCheck'),
    dict(type='CheckSemanticMap'),
    dict(type='mmseg.LoadAnnotations'),
    dict(type='PackMultiTaskInputs'),
]


def test_ade20k_labels_are_checked_before_the_reduction(tmp_path):
    base = write_ade(str(tmp_path))
    init_default_scope('llava_detseg')
    ds = ADE20KSegDataset(
        data_root=base, data_prefix=dict(img_path='images/validation',
                                         seg_map_path='annotations/validation'),
        pipeline=ADE_PIPELINE)
    # 0 (other), 1, 2 and 150 are all valid ADE20K labels
    assert ds[0]['data_samples'].gt_sem_seg.data.max() == 255
    path = osp.join(base, 'annotations', 'validation', 'ADE_val_00000001.png')
    _rewrite_map(path, lambda a: Image.fromarray(
        np.where(a == 150, 151, a).astype(np.uint8)))
    with pytest.raises(DataError, match=r'labels \[151\].*1\.\.150'):
        ds[0]
