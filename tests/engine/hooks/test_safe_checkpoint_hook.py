import errno
import os
import os.path as osp

import pytest
import torch
from mmengine.hooks import CheckpointHook
from toy_runner import FaultAt, toy_runner

import llava_detseg.engine  # noqa: F401 (registers the hooks)
from llava_detseg.engine import CheckpointSaveError
from llava_detseg.engine.hooks import SafeCheckpointHook
from llava_detseg.utils import load_checkpoint_file


def _last(work_dir) -> str:
    with open(osp.join(str(work_dir), 'last_checkpoint')) as f:
        return f.read().strip()


def _pths(work_dir) -> list:
    return sorted(n for n in os.listdir(str(work_dir)) if '.pth' in n)


def _finite(path) -> bool:
    state = load_checkpoint_file(path, map_location='cpu')['state_dict']
    return all(bool(torch.isfinite(v).all()) for v in state.values())


def test_nan_checkpoints_never_rotate_the_last_finite_one_out(tmp_path):
    # no guard: from iteration 5 (epoch 2) on the weights are NaN
    hook = dict(type='SafeCheckpointHook', interval=1, max_keep_ckpts=2)
    runner = toy_runner(tmp_path, max_epochs=4, checkpoint=hook,
                        custom_hooks=[FaultAt('nan_loss', [5])])
    runner.train()
    # max_keep_ckpts counts epoch_1, the last finite one, and never drops it
    assert _pths(tmp_path) == ['epoch_1.pth', 'epoch_4.pth']
    assert _finite(tmp_path / 'epoch_1.pth')
    assert not _finite(tmp_path / 'epoch_4.pth')
    assert _last(tmp_path) == str(tmp_path / 'epoch_1.pth')
    # --resume picks the last finite one and keeps protecting it
    resumed = toy_runner(tmp_path, max_epochs=4, checkpoint=hook,
                         resume=True)
    resumed.train()
    assert resumed.message_hub.get_info('last_finite_ckpt') == \
        str(tmp_path / 'epoch_4.pth')
    assert _pths(tmp_path) == ['epoch_3.pth', 'epoch_4.pth']
    assert _finite(tmp_path / 'epoch_4.pth')


def test_mmengine_hook_would_have_lost_it(tmp_path):
    # the control: with mmengine's own hook every kept checkpoint is NaN
    runner = toy_runner(
        tmp_path, max_epochs=4,
        checkpoint=CheckpointHook(interval=1, max_keep_ckpts=2),
        custom_hooks=[FaultAt('nan_loss', [5])])
    runner.train()
    assert _pths(tmp_path) == ['epoch_3.pth', 'epoch_4.pth']
    assert not any(_finite(tmp_path / n) for n in _pths(tmp_path))


def test_writes_through_a_temporary_file_and_cleans_stale_ones(tmp_path):
    runner = toy_runner(tmp_path, max_epochs=1)
    runner.train()
    assert _pths(tmp_path) == ['epoch_1.pth']
    assert _last(tmp_path) == str(tmp_path / 'epoch_1.pth')
    # what a run killed while writing epoch 2 leaves behind
    stale = tmp_path / '.epoch_2.pth.tmp'
    stale.write_bytes(b'PK\x03\x04 half a checkpoint')
    resumed = toy_runner(tmp_path, max_epochs=2, resume=True)
    resumed.train()
    assert not stale.exists()
    assert _pths(tmp_path) == ['epoch_1.pth', 'epoch_2.pth']
    assert _last(tmp_path) == str(tmp_path / 'epoch_2.pth')


def test_a_full_disk_stops_with_one_line_and_keeps_the_last(tmp_path,
                                                            monkeypatch):
    from llava_detseg.engine.hooks import safe_checkpoint_hook
    from llava_detseg.utils import checkpoint_io
    saves = []

    def full_at_epoch_2(data, path):
        saves.extend([path] if path.endswith('.pth') else [])
        if len(saves) != 2 or not path.endswith('.pth'):
            return checkpoint_io.write_bytes_atomically(data, path)
        with checkpoint_io.atomic_write(path) as tmp:  # half, then full
            with open(tmp, 'wb') as f:
                f.write(data[:len(data) // 2])
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(safe_checkpoint_hook, 'write_bytes_atomically',
                        full_at_epoch_2)
    hook = dict(type='SafeCheckpointHook', interval=1, max_keep_ckpts=1)
    runner = toy_runner(tmp_path, max_epochs=3, checkpoint=hook)
    with pytest.raises(CheckpointSaveError) as info:
        runner.train()
    message = str(info.value)
    assert message.startswith(
        f'cannot write checkpoint {tmp_path / "epoch_2.pth"}: No space left '
        'on device'), message
    assert f'the last checkpoint {tmp_path / "epoch_1.pth"} is intact' in \
        message and '\n' not in message
    # nothing half-written left, the previous one whole and named
    assert not [n for n in os.listdir(str(tmp_path)) if n.endswith('.tmp')]
    assert _pths(tmp_path) == ['epoch_1.pth']
    assert _last(tmp_path) == str(tmp_path / 'epoch_1.pth')
    assert _finite(tmp_path / 'epoch_1.pth')


def test_best_checkpoints_are_atomic_and_a_failed_one_stops(tmp_path,
                                                            monkeypatch):
    hook = dict(type='SafeCheckpointHook', interval=1, max_keep_ckpts=1,
                save_best='score', rule='greater')
    runner = toy_runner(tmp_path / 'ok', max_epochs=2, checkpoint=hook,
                        validate=True)
    runner.train()
    assert _pths(tmp_path / 'ok') == ['best_score_epoch_2.pth', 'epoch_2.pth']
    # the second best checkpoint meets a full disk
    from llava_detseg.engine.hooks import safe_checkpoint_hook
    from llava_detseg.utils import checkpoint_io

    def full_for_best_2(data, path):
        if osp.basename(path) == 'best_score_epoch_2.pth':
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return checkpoint_io.write_bytes_atomically(data, path)

    monkeypatch.setattr(safe_checkpoint_hook, 'write_bytes_atomically',
                        full_for_best_2)
    work = tmp_path / 'full'
    runner = toy_runner(work, max_epochs=2, checkpoint=hook, validate=True)
    with pytest.raises(CheckpointSaveError) as info:
        runner.train()
    assert str(info.value).startswith(
        f'cannot write checkpoint {work / "best_score_epoch_2.pth"}: No '
        'space left on device')
    assert _last(work) == str(work / 'epoch_2.pth')
    assert _finite(work / 'epoch_2.pth')


def test_finite_check_sees_nan_and_inf_and_no_fp16_overflow():
    from llava_detseg.engine.hooks.safe_checkpoint_hook import _weights_finite
    model = torch.nn.Linear(1000, 1000).half()
    with torch.no_grad():
        model.weight.fill_(100.)  # fp16 L2 norm overflows, float32 does not
        assert _weights_finite(model)
        model.bias[3] = float('inf')
        assert not _weights_finite(model)
        model.bias[3] = float('nan')
        assert not _weights_finite(model)


def test_is_a_checkpoint_hook():
    hook = SafeCheckpointHook(interval=2, max_keep_ckpts=3)
    assert isinstance(hook, CheckpointHook)
    assert hook.interval == 2 and hook.max_keep_ckpts == 3
