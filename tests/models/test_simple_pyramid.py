import pytest
import torch

from llava_detseg.models import SimplePyramid


def test_levels_have_their_strides():
    neck = SimplePyramid(32, 16, scale_factors=(4.0, 2.0, 1.0, 0.5),
                         norm_cfg=dict(type='GN', num_groups=8))
    maps = [torch.randn(2, 32, 8, 6) for _ in range(4)]
    out = neck(maps)
    assert [o.shape[-2:] for o in out] == [(32, 24), (16, 12), (8, 6),
                                           (4, 3)]
    assert all(o.shape[1] == 16 for o in out)
    out[0].sum().backward()
    assert neck.stages[0][0].weight.grad is not None
    assert neck.stages[1][0].weight.grad is None  # levels are independent


def test_mismatch_and_bad_scale_are_named():
    with pytest.raises(ValueError, match='power of two'):
        SimplePyramid(8, 8, scale_factors=(3.0, ),
                      norm_cfg=dict(type='GN', num_groups=4))
    neck = SimplePyramid(8, 8, scale_factors=(1.0, 0.5),
                         norm_cfg=dict(type='GN', num_groups=4))
    with pytest.raises(ValueError, match='got 1 maps but has 2'):
        neck([torch.randn(1, 8, 4, 4)])
