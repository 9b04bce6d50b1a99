"""End-to-end runs of tools/train.py, tools/test.py and dist_train.sh."""
import glob
import json
import os
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest
import torch

from conftest import ROOT

pytestmark = pytest.mark.slow


def run_tool(*args, timeout=600):
    env = dict(os.environ)
    env['PYTHONPATH'] = osp.join(ROOT, 'projects') + os.pathsep + env.get(
        'PYTHONPATH', '')
    env['PYTHON'] = sys.executable
    cmd = list(args)
    if cmd[0].endswith('.py'):
        cmd = [sys.executable] + cmd
    proc = subprocess.run(
        cmd, cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=timeout)
    return proc


def _ok(proc):
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


def _dump(cfg, tmp_path, name='cfg.py'):
    path = str(tmp_path / name)
    cfg.dump(path)
    return path


def _scalars(work_dir):
    """Every line of the run's JSON scalar log."""
    files = glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json'))
    assert files, f'no scalars.json under {work_dir}'
    with open(files[0]) as f:
        return [json.loads(line) for line in f]


def test_train_then_test_end_to_end(cfg, tmp_path):
    cfg.train_cfg.max_epochs = 1
    cfg.train_cfg.val_interval = 1
    path = _dump(cfg, tmp_path)
    work = str(tmp_path / 'run')
    _ok(run_tool('tools/train.py', path, '--work-dir', work))
    val = [r for r in _scalars(work) if 'vqa/accuracy' in r]
    assert val and 'seg/mIoU' in val[-1]
    # the COCO metric always reports: a 4-step model that finds nothing
    # above the score threshold scores a real 0, with its prediction count
    assert 'coco/bbox_mAP' in val[-1]
    assert val[-1]['coco/bbox_num_predictions'] >= 0
    assert val[-1]['conv/perplexity'] > 1
    # prediction pictures of a few samples land in the work dir
    assert glob.glob(osp.join(work, '*', 'vis_data', 'vis_image', '*.png'))
    ckpt = osp.join(work, 'epoch_1.pth')
    proc = _ok(run_tool('tools/test.py', path, ckpt, '--work-dir', work,
                        '--show-dir', 'shown'))
    assert 'vqa/accuracy' in proc.stdout and 'seg/mIoU' in proc.stdout
    metrics = json.load(open(glob.glob(
        osp.join(work, '*', 'test_metrics.json'))[0]))
    assert 0.0 <= metrics['vqa/accuracy'] <= 1.0
    assert metrics['vqa/num_questions'] > 0
    assert len(glob.glob(osp.join(work, '*', 'shown', '*.png'))) == 8


def test_resume_ends_with_the_same_weights(cfg, tmp_path):
    cfg.train_cfg.max_epochs = 2
    cfg.train_cfg.val_interval = 100
    cfg.train_dataloader.num_workers = 1  # the worker seeding path too
    cfg.default_hooks.checkpoint.max_keep_ckpts = 5
    path = _dump(cfg, tmp_path)
    full, part = str(tmp_path / 'full'), str(tmp_path / 'part')
    _ok(run_tool('tools/train.py', path, '--work-dir', full))
    # stop after the first of the two epochs, then resume
    _ok(run_tool('tools/train.py', path, '--work-dir', part, '--cfg-options',
                 'train_cfg.max_epochs=1'))
    assert not osp.exists(osp.join(part, 'epoch_2.pth'))
    _ok(run_tool('tools/train.py', path, '--work-dir', part, '--resume'))
    a = torch.load(osp.join(full, 'epoch_2.pth'), map_location='cpu')
    b = torch.load(osp.join(part, 'epoch_2.pth'), map_location='cpu')
    assert a['meta']['epoch'] == b['meta']['epoch'] == 2
    assert a['state_dict'].keys() == b['state_dict'].keys()
    for key, value in a['state_dict'].items():
        assert torch.equal(value, b['state_dict'][key]), key
    # ... and the run did learn: epoch 1 and epoch 2 weights differ
    e1 = torch.load(osp.join(part, 'epoch_1.pth'), map_location='cpu')
    assert any(not torch.equal(v, e1['state_dict'][k])
               for k, v in a['state_dict'].items())


def test_dist_train_on_two_cpu_processes(cfg, tmp_path):
    cfg.train_cfg.max_epochs = 1
    cfg.train_cfg.val_interval = 1
    path = _dump(cfg, tmp_path)
    work = str(tmp_path / 'dist')
    proc = _ok(run_tool('bash', 'tools/dist_train.sh', path, '2',
                        '--work-dir', work))
    assert 'gloo' in proc.stdout + proc.stderr
    val = [r for r in _scalars(work) if 'vqa/accuracy' in r]
    assert val and 'seg/mIoU' in val[-1]
    assert osp.isfile(osp.join(work, 'epoch_1.pth'))


def test_bad_data_gives_one_clear_line(cfg, tmp_path, shapes_root):
    import shutil
    root = str(tmp_path / 'shapes')
    shutil.copytree(shapes_root, root)
    os.remove(osp.join(root, 'images', 'train', '000002.png'))
    cfg.train_dataloader.dataset.data_root = root + '/'
    path = _dump(cfg, tmp_path)
    proc = run_tool('tools/train.py', path, '--work-dir',
                    str(tmp_path / 'bad'))
    assert proc.returncode == 1
    assert 'Traceback' not in proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith('error: ') and '000002.png' in last
    assert '"file_name"' in last
