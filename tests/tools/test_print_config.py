"""tools/misc/print_config.py prints every config, merges, saves."""
import importlib.util
import os.path as osp

import pytest
from mmengine.config import Config

from conftest import ROOT
from test_configs import CONFIGS


def _tool():
    spec = importlib.util.spec_from_file_location(
        'print_config', osp.join(ROOT, 'tools', 'misc', 'print_config.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow  # yapf formats each config: ~2 s apiece
def test_prints_every_config(capsys):
    tool = _tool()
    for path in CONFIGS:
        assert tool.main([osp.join(ROOT, path)]) == 0, path
        out = capsys.readouterr().out
        assert out.startswith('Config:\n'), path
        assert "type='LlavaDetSeg'" in out, path


def test_cfg_options_and_save_path_round_trip(tmp_path, capsys):
    tool = _tool()
    save = str(tmp_path / 'sub' / 'full.py')
    assert tool.main([osp.join(ROOT, 'configs', 'llava_detseg.py'),
                      '--cfg-options', 'train_dataloader.batch_size=2',
                      '--save-path', save]) == 0
    assert 'batch_size=2' in capsys.readouterr().out
    saved = Config.fromfile(save)
    assert saved.train_dataloader.batch_size == 2
    assert saved.model.det_head.strides == [8, 16, 32, 64, 128]
    assert tool.main([osp.join(ROOT, 'configs', 'llava_detseg.py'),
                      '--save-path', str(tmp_path / 'x.txt')]) == 2
    assert 'suffix' in capsys.readouterr().err
    assert tool.main(['configs/none.py']) == 2
