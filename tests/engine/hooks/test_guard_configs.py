"""Every config trains with the guards: its checkpoint hook is
``SafeCheckpointHook`` and its custom hooks hold ``NonFiniteGuardHook`` (a
config that sets ``custom_hooks`` replaces the base list, and could drop it
silently)."""
import os.path as osp

import pytest
from mmengine.config import Config

from conftest import CONFIGS, ROOT
from llava_detseg.registry import HOOKS
from llava_detseg.utils import register_all_modules



@pytest.mark.parametrize('path', CONFIGS)
def test_config_keeps_the_training_guards(path):
    register_all_modules()
    cfg = Config.fromfile(osp.join(ROOT, path))
    if 'train_cfg' not in cfg or 'default_hooks' not in cfg:
        pytest.skip('not a training config')
    assert cfg.default_hooks.checkpoint.type == 'SafeCheckpointHook'
    hooks = [h['type'] for h in cfg.get('custom_hooks', [])]
    assert 'NonFiniteGuardHook' in hooks, hooks
    for name in hooks + [h['type'] for h in cfg.default_hooks.values()]:
        assert HOOKS.get(name.split('llava_detseg.')[-1]), name
