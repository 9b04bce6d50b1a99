import glob
import os.path as osp

import pytest
from mmengine.config import Config

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
ROUTER = osp.join(
    ROOT, 'configs',
    'llava-detseg_clip-tiny_llama-tiny_router-moe_1xb16-7e_shapes.py')
ABLATIONS = sorted(glob.glob(osp.join(ROOT, 'configs/ablations/router/*.py')))


def _flat(d, prefix=''):
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flat(v, f'{prefix}{k}.'))
        else:
            out[f'{prefix}{k}'] = v
    return out


@pytest.mark.parametrize('path', ABLATIONS, ids=osp.basename)
def test_ablation_changes_only_the_router_or_projector(path):
    base = _flat(Config.fromfile(ROUTER).to_dict())
    cfg = _flat(Config.fromfile(path).to_dict())
    changed = {k for k in set(base) | set(cfg) if base.get(k) != cfg.get(k)}
    assert changed, 'the ablation changes nothing'
    assert all(k.startswith(('model.router.', 'model.language.projector.'))
               for k in changed), changed


def test_router_config_keeps_the_embedded_default_otherwise():
    cfg = Config.fromfile(ROUTER)
    assert cfg.model.router.type == 'GatedFeatureRouter'
    assert any(h.type == 'RouterStatsHook' for h in cfg.custom_hooks)
    assert any(h.type == 'EpochSeedHook' for h in cfg.custom_hooks)
    assert cfg.train_cfg.max_epochs == 7
