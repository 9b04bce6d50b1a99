"""cls and itc of the real (tiny) model through tools/test.py on tiny files
in the published CIFAR-10 and Flickr8k formats; the printed accuracy and
recall equal a direct computation on the dumped predictions."""
import json
import os
import os.path as osp
import subprocess
import sys

import mmengine
import numpy as np
import pytest
import torch

from conftest import ROOT, random_checkpoint, tiny_config
from image_level_files import write_cifar10, write_flickr8k

pytestmark = pytest.mark.slow


def _config(tiny_ckpt, shapes_root, tmp_path):
    cfg = tiny_config(tiny_ckpt, shapes_root, str(tmp_path / 'work'))
    cfg.model.tasks = dict(
        cls=dict(head=dict(type='LinearClsHead', num_classes=10)),
        itc=dict(head=dict(type='ImageTextContrastiveHead', embed_dims=32)))
    cifar = str(tmp_path / 'cifar10')
    write_cifar10(cifar, per_batch=3)  # test: 3 images
    flickr = write_flickr8k(str(tmp_path / 'flickr8k'))
    resize = dict(type='mmdet.Resize', scale=(64, 64), keep_ratio=False)
    cfg.test_dataloader = dict(
        batch_size=2, num_workers=0, persistent_workers=False,
        sampler=dict(type='DefaultSampler', shuffle=False),
        dataset=dict(
            type='MultiTaskConcatDataset',
            datasets=dict(
                cifar10=dict(
                    type='CIFAR10Dataset', data_root=cifar, split='test',
                    test_mode=True,
                    pipeline=[dict(type='LoadImageFromArray',
                                   channel_order='rgb'), resize,
                              dict(type='PackMultiTaskInputs')]),
                flickr8k=dict(
                    type='Flickr8kDataset', data_root=flickr,
                    split='test', tasks=('itc', ), test_mode=True,
                    pipeline=[dict(type='LoadImageWithCheck'), resize,
                              dict(type='PackMultiTaskInputs')]))))
    cfg.test_evaluator = [
        dict(type='TaskMetric', task='cls',
             metric=dict(type='Accuracy', topk=(1, 5))),
        dict(type='TaskMetric', task='itc',
             metric=dict(type='ImageTextRetrievalRecall', topk=(1, 5))),
    ]
    # CIFAR samples have no image file: this hook passes over them
    cfg.default_hooks.visualization.type = 'MultiTaskVisualizationHook'
    path = str(tmp_path / 'cls_itc.py')
    cfg.dump(path)
    return path, random_checkpoint(cfg.model, str(tmp_path / 'model.pth'))


def test_cls_and_itc_are_scored_by_tools_test(tiny_ckpt, shapes_root,
                                              tmp_path):
    config, ckpt = _config(tiny_ckpt, shapes_root, tmp_path)
    preds = str(tmp_path / 'preds.pkl')
    env = dict(os.environ)
    env['PYTHONPATH'] = osp.join(ROOT, 'projects') + os.pathsep + env.get(
        'PYTHONPATH', '')
    done = subprocess.run(
        [sys.executable, 'tools/test.py', config, ckpt, '--work-dir',
         str(tmp_path / 'work'), '--out', preds, '--show-dir', 'shown'],
        cwd=ROOT, env=env,
        capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    metrics = json.load(open(next(
        osp.join(r, f) for r, _, fs in os.walk(str(tmp_path / 'work'))
        for f in fs if f == 'test_metrics.json')))
    # the Flickr images are drawn, the CIFAR arrays passed over
    shown = [f for _, _, fs in os.walk(str(tmp_path / 'work')) for f in fs
             if f.endswith('.jpg')]
    assert sorted(shown) == ['e.jpg', 'f.jpg']
    results = mmengine.load(preds)
    cls = [r for r in results if 'cls' in r['tasks']]
    itc = [r for r in results if 'itc' in r['tasks']]
    assert len(cls) == 3 and len(itc) == 2
    hits = [int(r['pred_score'].argmax()) == int(r['gt_label'][0])
            for r in cls]
    assert metrics['accuracy/top1'] == pytest.approx(
        100 * np.mean(hits), abs=1e-3)
    assert metrics['accuracy/top5'] >= metrics['accuracy/top1']
    # image -> text R@1, brute force over every caption of the test images
    img = torch.stack([r['pred_image_embed'] for r in itc])
    txt = torch.cat([r['pred_text_embeds'] for r in itc])
    owner = [i for i, r in enumerate(itc)
             for _ in range(len(r['pred_text_embeds']))]
    sim = torch.nn.functional.normalize(img, dim=-1) @ \
        torch.nn.functional.normalize(txt, dim=-1).t()
    i2t = np.mean([owner[int(sim[i].argmax())] == i
                   for i in range(len(itc))])
    t2i = np.mean([int(sim[:, j].argmax()) == owner[j]
                   for j in range(len(owner))])
    assert metrics['retrieval/i2t_R@1'] == pytest.approx(100 * i2t, abs=1e-3)
    assert metrics['retrieval/t2i_R@1'] == pytest.approx(100 * t2i, abs=1e-3)
