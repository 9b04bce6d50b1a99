"""Checkpoints load with weights_only=True everywhere; writes are atomic."""
import os
import os.path as osp

import numpy as np
import pytest
import torch

import llava_detseg  # noqa: F401 (allow-list + weights-only loader)
from llava_detseg.utils import (CheckpointLoadError, atomic_write,
                                load_checkpoint_file, save_checkpoint_file)


class _Payload:
    """Unpickling it creates a file: proof that pickled code ran."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.mkdir, (self.marker, ))


@pytest.fixture
def evil(tmp_path):
    """A checkpoint that runs ``os.mkdir(marker)`` when unpickled."""
    marker = str(tmp_path / 'code_ran')
    path = str(tmp_path / 'evil.pth')
    torch.save(dict(state_dict=dict(w=torch.ones(2)),
                    meta=dict(x=_Payload(marker))), path)
    return path, marker


def _refused(info, path):
    message = str(info.value)
    assert message.startswith(f'{path}: refused to load: it holds posix.mkdir'
                              ', which weights-only loading does not allow')
    assert '\n' not in message


@pytest.mark.parametrize('how', ['direct', 'mmengine', 'into_model'])
def test_a_pickled_object_is_refused_even_when_torch_is_told_otherwise(
        evil, how, monkeypatch):
    from mmengine.runner.checkpoint import _load_checkpoint, load_checkpoint
    path, marker = evil
    # this variable turns weights_only off wherever it is not explicit
    monkeypatch.setenv('TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD', '1')
    load = dict(
        direct=lambda: load_checkpoint_file(path),
        mmengine=lambda: _load_checkpoint(path, map_location='cpu'),
        into_model=lambda: load_checkpoint(
            torch.nn.Linear(2, 1), path, map_location='cpu'))[how]
    with pytest.raises(CheckpointLoadError) as info:
        load()
    _refused(info, path)
    assert not osp.exists(marker)


def test_the_control_mmengine_own_loader_would_run_it(evil, monkeypatch):
    # what MMEngine's loader does without the project's replacement
    from mmengine.runner.checkpoint import load_from_local
    path, marker = evil
    monkeypatch.setenv('TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD', '1')
    load_from_local(path, map_location='cpu')
    assert osp.isdir(marker)


def test_mmengine_checkpoint_classes_still_load(tmp_path):
    from mmengine.logging import HistoryBuffer
    buf = HistoryBuffer()
    buf.update(1.5)
    path = str(tmp_path / 'ok.pth')
    torch.save(dict(state_dict=dict(w=torch.zeros(3)),
                    message_hub=dict(log=buf, arr=np.arange(3),
                                     scalar=np.float64(2.0))), path)
    ckpt = load_checkpoint_file(path, map_location='cpu')
    assert ckpt['message_hub']['log'].current() == 1.5
    assert ckpt['message_hub']['arr'].tolist() == [0, 1, 2]


def test_missing_and_truncated_files_are_one_line(tmp_path):
    with pytest.raises(CheckpointLoadError, match='does not exist'):
        load_checkpoint_file(str(tmp_path / 'none.pth'))
    path = str(tmp_path / 'cut.pth')
    torch.save(dict(state_dict=dict(w=torch.randn(1000))), path)
    with open(path, 'rb') as f:
        data = f.read()
    with open(path, 'wb') as f:
        f.write(data[:len(data) // 2])
    with pytest.raises(CheckpointLoadError) as info:
        load_checkpoint_file(path)
    assert str(info.value).startswith(
        f'{path}: not a complete torch checkpoint')
    assert '\n' not in str(info.value)


def test_atomic_write_keeps_the_old_file_on_failure(tmp_path):
    path = str(tmp_path / 'ckpt.pth')
    save_checkpoint_file(dict(v=1), path)
    with pytest.raises(OSError):
        with atomic_write(path) as tmp:
            with open(tmp, 'wb') as f:
                f.write(b'half')
            raise OSError(28, 'No space left on device')
    assert os.listdir(str(tmp_path)) == ['ckpt.pth']
    assert load_checkpoint_file(path) == dict(v=1)
    save_checkpoint_file(dict(v=2), path)
    assert load_checkpoint_file(path) == dict(v=2)
    assert os.listdir(str(tmp_path)) == ['ckpt.pth']


def test_inferencer_and_distillation_teacher_refuse_it(text_model, cfg,
                                                       evil, tmp_path):
    from llava_detseg.apis import LlavaDetSegInferencer
    from llava_detseg.models.losses.distillation import TaskDistiller
    path, marker = evil
    with pytest.raises(CheckpointLoadError) as info:
        LlavaDetSegInferencer(text_model['config'], path, device='cpu',
                              show_progress=False)
    _refused(info, path)
    with pytest.raises(CheckpointLoadError) as info:
        # a det / seg teacher: the plain tiny config
        teacher_config = str(tmp_path / 'teacher.py')
        cfg.dump(teacher_config)
        TaskDistiller._build_teacher(teacher_config, path)
    _refused(info, path)
    assert not osp.exists(marker)
