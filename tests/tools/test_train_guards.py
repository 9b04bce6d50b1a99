"""tools/train.py under faults: a NaN loss, a SIGKILL mid-save, a full disk.

Each faulty run is compared with one uninterrupted run of the same config
(``clean``): a resumed run must end with exactly its weights.
"""
import os
import os.path as osp
import signal
import subprocess
import sys
import time

import pytest
import torch

from conftest import ROOT, tiny_config

pytestmark = pytest.mark.slow

HERE = osp.dirname(osp.abspath(__file__))


def _env(fault=None) -> dict:
    env = dict(os.environ)
    env['PYTHONPATH'] = os.pathsep.join(
        [osp.join(ROOT, 'projects'), HERE, env.get('PYTHONPATH', '')])
    env.pop('LLAVA_DETSEG_TEST_FAULT', None)
    if fault:
        env['LLAVA_DETSEG_TEST_FAULT'] = fault
    return env


def train(config, work, *args, fault=None, timeout=600):
    return subprocess.run(
        [sys.executable, 'tools/train.py', config, '--work-dir', work, *args],
        cwd=ROOT, env=_env(fault), capture_output=True, text=True,
        timeout=timeout)


def _ok(proc):
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]


def _one_line_error(proc) -> str:
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert 'Traceback' not in proc.stderr, proc.stderr[-3000:]
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith('error: '), proc.stderr[-3000:]
    return last


def _last_checkpoint(work) -> str:
    with open(osp.join(work, 'last_checkpoint')) as f:
        return f.read().strip()


def _state(path) -> dict:
    from llava_detseg.utils import load_checkpoint_file
    return load_checkpoint_file(path, map_location='cpu')['state_dict']


def _same_weights(a: str, b: str) -> None:
    sa, sb = _state(a), _state(b)
    assert sa.keys() == sb.keys()
    for key, value in sa.items():
        assert torch.equal(value, sb[key]), key


@pytest.fixture(scope='module')
def config(tiny_ckpt, shapes_root, tmp_path_factory) -> str:
    """2 epochs of 2 iterations (8 images), max_keep_ckpts=1, the fault
    hook."""
    cfg = tiny_config(tiny_ckpt, shapes_root)
    cfg.train_dataloader.dataset.indices = 8
    cfg.train_cfg.max_epochs = 2
    cfg.train_cfg.val_interval = 100
    # one kept checkpoint: mmengine's hook removes it before writing the next
    cfg.default_hooks.checkpoint.max_keep_ckpts = 1
    cfg.default_hooks.visualization.draw = False
    cfg.custom_imports = dict(imports=['train_faults'],
                              allow_failed_imports=False)
    cfg.custom_hooks = list(cfg.custom_hooks) + [dict(type='TrainFaultHook')]
    path = str(tmp_path_factory.mktemp('guards') / 'cfg.py')
    cfg.dump(path)
    return path


@pytest.fixture(scope='module')
def clean(config, tmp_path_factory) -> str:
    """The final checkpoint of the uninterrupted run."""
    work = str(tmp_path_factory.mktemp('clean'))
    start = time.time()
    _ok(train(config, work))
    print(f'uninterrupted 2-epoch run: {time.time() - start:.1f} s')
    return osp.join(work, 'epoch_2.pth')


def test_nan_loss_stops_keeps_the_last_finite_checkpoint_and_resumes(
        config, clean, tmp_path):
    work = str(tmp_path / 'nan')
    proc = train(config, work, fault='nan_loss@4')
    last = _one_line_error(proc)
    assert last.startswith('error: non-finite loss at epoch 2, iter 4 ('), last
    ckpt = osp.join(work, 'epoch_1.pth')
    assert f'the last checkpoint {ckpt} holds the weights before it' in last
    assert not osp.exists(osp.join(work, 'epoch_2.pth'))
    assert _last_checkpoint(work) == ckpt
    assert all(bool(torch.isfinite(v).all()) for v in _state(ckpt).values()
               if v.is_floating_point())
    # --resume continues from it and ends where the clean run ended
    _ok(train(config, work, '--resume'))
    _same_weights(osp.join(work, 'epoch_2.pth'), clean)


def test_sigkill_while_saving_then_resume_ends_with_the_same_weights(
        config, clean, tmp_path):
    work = str(tmp_path / 'killed')
    proc = subprocess.Popen(
        [sys.executable, 'tools/train.py', config, '--work-dir',
         work], cwd=ROOT, env=_env('kill_in_save@2'),
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    marker = osp.join(work, 'writing')
    deadline = time.time() + 540
    while not osp.exists(marker):
        assert proc.poll() is None, proc.stderr.read()[-3000:]
        assert time.time() < deadline, 'the second save never started'
        time.sleep(0.2)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    # half of epoch 2 lies in a hidden temporary file; epoch 1 is whole
    partial = osp.join(work, '.epoch_2.pth.tmp')
    assert osp.getsize(partial) > 0
    assert not osp.exists(osp.join(work, 'epoch_2.pth'))
    assert _last_checkpoint(work) == osp.join(work, 'epoch_1.pth')
    _state(osp.join(work, 'epoch_1.pth'))
    os.remove(marker)
    _ok(train(config, work, '--resume'))
    assert not osp.exists(partial)
    _same_weights(osp.join(work, 'epoch_2.pth'), clean)


def test_full_disk_at_save_time_stops_with_one_line(config, tmp_path):
    work = str(tmp_path / 'full')
    proc = train(config, work, fault='enospc_in_save@2')
    last = _one_line_error(proc)
    ckpt = osp.join(work, 'epoch_1.pth')
    assert last.startswith(
        f'error: cannot write checkpoint {osp.join(work, "epoch_2.pth")}: '
        'No space left on device'), last
    assert f'the last checkpoint {ckpt} is intact' in last
    assert not [n for n in os.listdir(work) if n.endswith('.tmp')]
    assert not osp.exists(osp.join(work, 'epoch_2.pth'))
    assert _last_checkpoint(work) == ckpt
    assert _state(ckpt)


def test_a_pickled_object_is_refused_by_train_and_test(config, tmp_path):
    from mmengine.logging import MMLogger  # any non-allow-listed class
    work = str(tmp_path / 'evil')
    os.makedirs(work)
    evil = osp.join(work, 'epoch_1.pth')
    torch.save(dict(state_dict={}, meta=dict(obj=MMLogger)), evil)
    refused = (
        f'error: {evil}: refused to load: it holds '
        'mmengine.logging.logger.MMLogger, which weights-only loading does '
        'not allow (only tensors, containers and the allow-listed mmengine / '
        'numpy classes load; a pickled object could run code)')
    assert _one_line_error(train(config, work, '--resume',
                                 evil)) == refused
    proc = subprocess.run(
        [sys.executable, 'tools/test.py', config, evil,
         '--work-dir', work], cwd=ROOT, env=_env(), capture_output=True,
        text=True, timeout=600)
    assert _one_line_error(proc) == refused


def test_nan_loss_on_one_rank_stops_both_without_a_hang(config, tmp_path):
    work = str(tmp_path / 'dist')
    env = _env('nan_loss@2:0')  # rank 0's loss only; 1 iteration an epoch
    env.update(PYTHON=sys.executable, PORT='29531')
    proc = subprocess.run(
        ['bash', 'tools/dist_train.sh', config, '2', '--work-dir',
         work], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=400)
    assert proc.returncode != 0
    errors = [line for line in proc.stderr.splitlines()
              if line.startswith('error: non-finite')]
    # rank 0 names its NaN loss; rank 1 (when torchrun lets it print before
    # stopping it) the NaN gradient the all-reduce brought it
    assert any(e.startswith('error: non-finite loss at epoch 2, iter 2 (')
               for e in errors), proc.stderr[-3000:]
    assert all(' at epoch 2, iter 2 ' in e for e in errors), errors
    assert osp.isfile(osp.join(work, 'epoch_1.pth'))
    assert not osp.exists(osp.join(work, 'epoch_2.pth'))
