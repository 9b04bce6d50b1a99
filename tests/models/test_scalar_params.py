"""0-dim parameters become 1-element vectors (FSDP refuses 0-dim ones) and
checkpoints that hold them 0-dim still load."""
import copy

import pytest
import torch
import torch.distributed as dist
from mmengine.registry import init_default_scope

from llava_detseg.registry import MODELS


def test_fcos_scales_are_vectors_and_old_checkpoints_load(cfg, tmp_path):
    init_default_scope('llava_detseg')
    torch.manual_seed(0)
    model = MODELS.build(copy.deepcopy(cfg.model))
    assert not [n for n, p in model.named_parameters() if p.dim() == 0]
    assert model.det_head.scales[0].scale.shape == (1, )
    # a checkpoint written before (or mmdet's FCOS weights): 0-dim scales
    old = {k: (v.reshape(()) if k.endswith('.scale') else v)
           for k, v in model.state_dict().items()}
    old['det_head.scales.2.scale'] = torch.tensor(1.7)
    other = MODELS.build(copy.deepcopy(cfg.model))
    other.load_state_dict(old, strict=True)
    assert float(other.det_head.scales[2].scale) == pytest.approx(1.7)
    assert other.det_head.scales[2].scale.shape == (1, )
    # and FSDP wraps the model (it raised "FSDP doesn't support scalar
    # parameters" on mmdet's Scale); a one-process gloo group on the CPU
    from torch.distributed.fsdp import FullyShardedDataParallel as FSDP
    dist.init_process_group('gloo', rank=0, world_size=1,
                            init_method=f'file://{tmp_path}/pg')
    try:
        FSDP(other, device_id=torch.device('cpu'), use_orig_params=True)
    finally:
        dist.destroy_process_group()
