"""The full-scale text config on COCO / ADE20K-format data: detection
instructions on COCO images, segmentation instructions on ADE20K images,
with the datasets' own class names, and answers that parse back."""
import os.path as osp

import pytest
from mmengine.config import Config
from mmengine.registry import init_default_scope

from conftest import ROOT
from sample_datasets import rebase_paths, write_tiny_tree
from llava_detseg.datasets.transforms.text_instructions import pluralize
from llava_detseg.models.language.text_tasks import TextTaskIO
from llava_detseg.registry import DATASETS

CONFIG = osp.join(
    ROOT, 'configs', 'text',
    'llava-detseg_clip-l14-336_vicuna-7b_8xb4-12e_coco-ade-llava_'
    'text-grounded.py')


@pytest.mark.parametrize('split', ['train', 'val'])
def test_coco_and_ade_samples_get_text_instructions(tmp_path, split):
    init_default_scope('llava_detseg')
    root = str(tmp_path / 'data')
    write_tiny_tree(root)
    cfg = Config.fromfile(CONFIG)
    text = TextTaskIO(**cfg.model.text_cfg)
    assert len(text.codec.classes) == 80 and len(text.codec.seg_classes) == 150
    assert 'bed' in text.codec.seg_classes  # ADE20K's 'bed ' normalised
    loader = cfg[f'{split}_dataloader'].to_dict()
    dataset = DATASETS.build(rebase_paths(loader['dataset'], 'data/', root + '/'))
    seen = {}
    for source, ds in zip(dataset.names, dataset.datasets):
        if source == 'llava':
            continue
        for i in range(len(ds)):
            sample = ds[i]['data_samples']
            items = sample.metainfo.get('text_conversations') or []
            shape = sample.ori_shape[:2] if split == 'val' else \
                sample.img_shape[:2]
            for item in items:
                seen.setdefault(source, set()).add(item['kind'])
                parsed = text.codec.decode(item['answer'], shape)
                assert parsed.ok, (source, item['answer'][:200])
                if source == 'coco':
                    assert parsed.has_det and not parsed.has_seg
                    if item['kind'] == 'det_class':  # names the class
                        name = text.codec.classes[item['det'][0]]
                        assert name in item['question'] or pluralize(
                            name) in item['question'], item['question']
                else:
                    assert parsed.has_seg and not parsed.has_det
                    for label, _ in parsed.polygons:
                        assert 0 <= label < 150
    assert seen['coco'] <= {'det_all', 'det_class', 'count', 'where'}
    assert seen['ade'] <= {'seg_all', 'seg_class'}
    assert 'det_all' in seen['coco'] or split == 'train'
    assert 'seg_all' in seen['ade'] or split == 'train'


def test_pluralize():
    cases = dict(person='people', bus='buses', bench='benches',
                 knife='knives', **{'traffic light': 'traffic lights',
                                    'teddy bear': 'teddy bears',
                                    'wine glass': 'wine glasses',
                                    'pastry': 'pastries', 'toy': 'toys',
                                    'sheep': 'sheep', 'box': 'boxes'})
    for name, plural in cases.items():
        assert pluralize(name) == plural


def test_class_names_from_a_dataset_name():
    text = TextTaskIO('mmdet.CocoDataset')
    assert text.codec.classes[0] == 'person' and len(text.codec.classes) == 80
    with pytest.raises(ValueError, match='registry name of a dataset'):
        TextTaskIO('mmdet.NoSuchDataset')
