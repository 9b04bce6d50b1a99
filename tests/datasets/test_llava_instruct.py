"""LlavaInstructDataset: LLaVA-format conversations as VQA samples."""
import os.path as osp

import pytest
from mmengine.registry import init_default_scope

from llava_detseg.datasets import DataError, LlavaInstructDataset
from sample_datasets import llava_entries, write_coco, write_json

PIPELINE = [
    dict(type='LoadImageWithCheck'),
    dict(type='mmdet.Resize', scale=(64, 64), keep_ratio=True),
    dict(type='mmdet.Pad', size=(64, 64)),
    dict(type='SampleConversations', max_num=1),
    dict(type='PackMultiTaskInputs'),
]


@pytest.fixture
def coco_root(tmp_path):
    root = str(tmp_path / 'coco')
    write_coco(root, 'train2017', num=3)
    return root


def _names(root):
    import json
    ann = json.load(open(osp.join(root, 'annotations',
                                  'instances_train2017.json')))
    return [i['file_name'] for i in ann['images']]


def _dataset(root, ann, **kwargs):
    init_default_scope('llava_detseg')
    return LlavaInstructDataset(
        data_root=root, ann_file=ann, data_prefix=dict(img='train2017'),
        pipeline=PIPELINE, **kwargs)


def test_entries_group_by_image_and_text_only_are_left_out(coco_root):
    names = _names(coco_root)
    ann = write_json(osp.join(coco_root, 'llava.json'),
                     llava_entries(names, text_only=2))
    ds = _dataset(coco_root, 'llava.json')
    assert len(ds) == len(names)
    info = ds.get_data_info(0)
    assert len(info['conversations']) == 2 and info['tasks'] == ['vqa']
    out = ds[0]
    sample = out['data_samples']
    assert out['inputs'].shape[-2:] == (64, 64)
    assert sample.tasks == ['vqa'] and len(sample.conversations) == 1
    with pytest.raises(DataError, match='entry 6 .*text-only'):
        _dataset(coco_root, ann, text_only='raise')


def test_bad_entry_and_missing_image_are_named(coco_root):
    names = _names(coco_root)
    entries = llava_entries(names, text_only=0)
    entries[3]['conversations'][1]['from'] = 'human'
    write_json(osp.join(coco_root, 'bad.json'), entries)
    with pytest.raises(DataError, match=r"entry 3 \(id '1-1'\).*"
                       r'conversations\[1\]'):
        _dataset(coco_root, 'bad.json')
    entries = llava_entries(names + ['absent.jpg'], text_only=0)
    write_json(osp.join(coco_root, 'gone.json'), entries)
    with pytest.raises(DataError, match='absent.jpg does not exist'):
        _dataset(coco_root, 'gone.json')
    assert len(_dataset(coco_root, 'gone.json', on_error='skip')) == 3
    with pytest.raises(ValueError, match='text_only'):
        _dataset(coco_root, 'gone.json', text_only='keep')
