"""tools/test.py on a dataset in the standard formats written by other code.

The dataset below is drawn with Pillow, stored as JPEG, numbers its COCO
categories 1..3 and its images from 100, and names files freely: nothing of
the project's own generator is used.
"""
import json
import os
import os.path as osp

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

from test_train_test_tools import _dump, _ok, run_tool

pytestmark = pytest.mark.slow

CATS = [dict(id=1, name='circle'), dict(id=2, name='square'),
        dict(id=3, name='triangle')]


def _write_external(root: str) -> None:
    for sub in ('pics', 'labels', 'ann'):
        os.makedirs(osp.join(root, sub), exist_ok=True)
    rng = np.random.default_rng(7)
    images, anns, convs = [], [], []
    for k in range(5):
        w, h = 150, 110
        name = f'photo_{k}.jpg'
        img = Image.new('RGB', (w, h), (90, 90, 90))
        sem = Image.new('L', (w, h), 0)
        draw, sdraw = ImageDraw.Draw(img), ImageDraw.Draw(sem)
        x0, y0 = int(rng.integers(5, 60)), int(rng.integers(5, 40))
        cat = int(rng.integers(1, 4))
        box = [x0, y0, x0 + 40, y0 + 40]
        poly = dict(
            circle=None, square=[(x0, y0), (x0 + 40, y0), (x0 + 40, y0 + 40),
                                 (x0, y0 + 40)],
            triangle=[(x0, y0 + 40), (x0 + 20, y0), (x0 + 40, y0 + 40)])
        kind = CATS[cat - 1]['name']
        if kind == 'circle':
            draw.ellipse(box, fill=(230, 30, 30))
            sdraw.ellipse(box, fill=cat)
            seg = [[x0 + 20 + 20 * np.cos(t), y0 + 20 + 20 * np.sin(t)]
                   for t in np.linspace(0, 2 * np.pi, 16, endpoint=False)]
        else:
            draw.polygon(poly[kind], fill=(30, 30, 230))
            sdraw.polygon(poly[kind], fill=cat)
            seg = poly[kind]
        img.save(osp.join(root, 'pics', name), quality=92)
        sem.save(osp.join(root, 'labels', f'photo_{k}.png'))
        images.append(dict(id=100 + k, file_name=name, width=w, height=h))
        anns.append(dict(id=500 + k, image_id=100 + k, category_id=cat,
                         bbox=[x0, y0, 40, 40], area=1600.0, iscrowd=0,
                         segmentation=[[float(c) for p in seg for c in p]]))
        convs.append(dict(id=f'q{k}', image=name, conversations=[
            dict(value=f'<image>\nHow many {kind}s are there?',
                 **{'from': 'human'}),
            dict(value='1', **{'from': 'gpt'})]))
    with open(osp.join(root, 'ann', 'coco.json'), 'w') as f:
        json.dump(dict(images=images, annotations=anns, categories=CATS), f)
    with open(osp.join(root, 'ann', 'chat.json'), 'w') as f:
        json.dump(convs, f)


def test_test_tool_scores_an_external_dataset(cfg, tmp_path):
    from mmengine.registry import init_default_scope
    from llava_detseg.registry import MODELS
    root = str(tmp_path / 'external') + '/'
    _write_external(root)
    init_default_scope('llava_detseg')
    model = MODELS.build(cfg.model)
    ckpt = str(tmp_path / 'model.pth')
    torch.save(dict(state_dict=model.state_dict(), meta=dict()), ckpt)
    path = _dump(cfg, tmp_path)
    proc = _ok(run_tool(
        'tools/test.py', path, ckpt, '--work-dir', str(tmp_path / 'ext'),
        '--cfg-options', f'test_dataloader.dataset.data_root={root}',
        'test_dataloader.dataset.ann_file=ann/coco.json',
        'test_dataloader.dataset.conv_file=ann/chat.json',
        'test_dataloader.dataset.data_prefix.img=pics/',
        'test_dataloader.dataset.data_prefix.seg=labels/',
        f'test_evaluator.0.metric.ann_file={root}ann/coco.json'))
    out = proc.stdout
    for key in ('coco/bbox_mAP', 'seg/mIoU', 'vqa/accuracy'):
        assert key in out, out[-2000:]
    assert 'vqa/num_questions: 5' in out
