"""The dataset converters on small COCO / ADE20K / LLaVA-format samples,
their outputs loaded by the dataset classes."""
import importlib.util
import json
import os
import os.path as osp

import numpy as np
import pytest
from mmengine.registry import init_default_scope
from PIL import Image

from conftest import ROOT
from sample_datasets import COCO_CATS, llava_entries, write_ade, write_coco

TOOLS = osp.join(ROOT, 'tools', 'dataset_converters')


def _tool(name):
    spec = importlib.util.spec_from_file_location(
        f'converter_{name}', osp.join(TOOLS, f'{name}.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize('name', ['coco_semantic', 'ade20k',
                                  'llava_instruct', 'make_tiny_samples'])
def test_help(name, capsys):
    with pytest.raises(SystemExit) as exit_:
        _tool(name).main(['--help'])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.startswith('usage:')


def test_coco_semantic_maps_load_in_multitask_coco(tmp_path):
    root = str(tmp_path / 'coco')
    ann = write_coco(root, 'val2017', num=3)
    out = osp.join(root, 'semantic', 'val2017')
    assert _tool('coco_semantic').main([ann, out]) == 0
    seg = np.array(Image.open(osp.join(out, '000000001000.png')))
    # labels are 1 + index in the sorted category ids; the crowd is 255
    assert set(np.unique(seg)) == {0, 1, 2, 3, 255}
    data = json.load(open(ann))
    person = [a for a in data['annotations'] if a['image_id'] == 1000 and
              a['category_id'] == 1 and not a['iscrowd']][0]
    x, y, w, h = (int(v) for v in person['bbox'])
    assert (seg[y + 2:y + h - 2, x + 2:x + w - 2] > 0).all()
    init_default_scope('llava_detseg')
    from llava_detseg.datasets import CocoFormatMultiTaskDataset
    ds = CocoFormatMultiTaskDataset(
        data_root=root, ann_file='annotations/instances_val2017.json',
        data_prefix=dict(img='val2017/', seg='semantic/val2017/'),
        seg_map_suffix='.png', metainfo=dict(
            classes=tuple(c['name'] for c in COCO_CATS)),
        tasks=('det', 'seg'), pipeline=[
            dict(type='LoadImageWithCheck'),
            dict(type='mmdet.LoadAnnotations', with_bbox=True,
                 with_seg=True),
            dict(type='PackMultiTaskInputs')])
    sample = ds[0]['data_samples']
    assert sample.tasks == ['det', 'seg']
    assert np.array_equal(sample.gt_sem_seg.data[0].numpy(), seg)
    assert ds.metainfo['seg_classes'] == ('background', 'person', 'car',
                                          'dog')


def test_ade20k_check_passes_and_names_problems(tmp_path, capsys):
    base = write_ade(str(tmp_path))
    tool = _tool('ade20k')
    assert tool.main([base, '--no-progress']) == 0
    assert 'validation: 3 images, 0 problem(s)' in capsys.readouterr().out
    init_default_scope('llava_detseg')
    from llava_detseg.datasets import ADE20KSegDataset
    ds = ADE20KSegDataset(data_root=base, data_prefix=dict(
        img_path='images/training', seg_map_path='annotations/training'))
    assert len(ds) == 3
    bad = osp.join(base, 'annotations', 'training', 'ADE_train_00000002.png')
    Image.fromarray(np.full((4, 4), 200, np.uint8)).save(bad)
    os.remove(osp.join(base, 'annotations', 'validation',
                       'ADE_val_00000003.png'))
    assert tool.main([base, '--no-progress']) == 1
    err = capsys.readouterr().err
    assert 'ADE_train_00000002.png: label 200 > 150' in err
    assert 'ADE_val_00000003.jpg: no map' in err


def test_llava_mix665k_coco_part_joins_coco_and_loads(tmp_path, capsys):
    root = str(tmp_path / 'coco')
    ann = write_coco(root, 'train2017', num=4)
    names = [i['file_name'] for i in json.load(open(ann))['images']]
    entries = llava_entries(names, prefix='coco/train2017/', text_only=2)
    entries += llava_entries(['gqa1.jpg'], prefix='gqa/images/',
                             text_only=0)
    entries.append(dict(id='broken', image='coco/train2017/' + names[0],
                        conversations=[{'from': 'gpt', 'value': 'hi'}]))
    src = str(tmp_path / 'mix665k.json')
    json.dump(entries, open(src, 'w'))
    out, val = str(tmp_path / 'train.json'), str(tmp_path / 'val.json')
    tool = _tool('llava_instruct')
    assert tool.main([src, out, '--only-prefix', 'coco/train2017/',
                      '--strip-prefix', 'coco/train2017/', '--image-root',
                      osp.join(root, 'train2017'), '--val-size', '1',
                      '--val-out', val, '--no-progress']) == 0
    io = capsys.readouterr()
    assert "entry 12 (id 'broken'), field \"conversations[0]\"" in io.err
    assert '2 text-only' in io.out and '2 other source' in io.out
    kept, held = json.load(open(out)), json.load(open(val))
    assert len(kept) == 6 and len(held) == 2
    assert all(e['image'] in names for e in kept + held)
    init_default_scope('llava_detseg')
    from llava_detseg.datasets import (CocoFormatMultiTaskDataset,
                                       LlavaInstructDataset)
    ds = LlavaInstructDataset(data_root=root, ann_file=out,
                              data_prefix=dict(img='train2017'))
    assert len(ds) == 3
    joined = CocoFormatMultiTaskDataset(
        data_root=root, ann_file='annotations/instances_train2017.json',
        conv_file=out, data_prefix=dict(img='train2017/'),
        metainfo=dict(classes=tuple(c['name'] for c in COCO_CATS)),
        tasks=('det', 'vqa'))
    assert sum('vqa' in joined.get_data_info(i)['tasks']
               for i in range(len(joined))) == 3
    # --strict stops at the first bad entry, naming it
    assert tool.main([src, out, '--strict', '--no-progress']) == 1
    assert "id 'text-0'" not in capsys.readouterr().err
