import pytest
import torch
from mmengine.registry import init_default_scope

from llava_detseg.models.language import (AdaptiveMoEProjector, MLPProjector,
                                          MoEProjector, build_projector)


@pytest.fixture(autouse=True)
def scope():
    init_default_scope('llava_detseg')


@pytest.mark.parametrize('type_', [
    'linear', 'mlp2x_gelu', 'moe', 'LinearProjector', 'MLPProjector',
    'MoEProjector'
])
def test_every_type_maps_vision_to_language_width(type_):
    proj = build_projector(dict(type=type_), None, 16, 24)
    assert proj(torch.randn(2, 5, 16)).shape == (2, 5, 24)


def test_identity_needs_equal_widths():
    proj = build_projector(dict(type='identity'), None, 16, 16)
    x = torch.randn(2, 5, 16)
    assert torch.equal(proj(x), x)
    with pytest.raises(ValueError, match='language.projector'):
        build_projector(dict(type='identity'), None, 16, 24)


def test_pretrained_mlp2x_gelu_weights_are_loaded():
    torch.manual_seed(0)
    ckpt = MLPProjector(16, 24)  # same names as LlavaMultiModalProjector
    x = torch.randn(2, 5, 16)
    for type_ in ('mlp2x_gelu', 'adaptive_moe'):
        cfg = dict(type=type_)
        if type_ == 'adaptive_moe':
            cfg['num_layers'] = 3
        proj = build_projector(cfg, ckpt, 16, 24)
        w = torch.tensor([[0.0, 1.0, 0.0]] * 2)
        out = proj(x, w) if type_ == 'adaptive_moe' else proj(x)
        assert torch.allclose(out, ckpt(x), atol=1e-6)
    moe = build_projector(dict(type='moe'), ckpt, 16, 24)
    assert torch.equal(moe.base.linear_1.weight, ckpt.linear_1.weight)
    fresh = build_projector(dict(type='mlp2x_gelu', load_pretrained=False),
                            ckpt, 16, 24)
    assert not torch.equal(fresh.linear_1.weight, ckpt.linear_1.weight)
    with pytest.raises(ValueError, match='load_pretrained=False'):
        build_projector(dict(type='mlp2x_gelu'), ckpt, 8, 24)


def test_moe_projector_routes_top_k_and_returns_losses():
    torch.manual_seed(0)
    proj = MoEProjector(16, 24, num_experts=4, top_k=2)
    proj.train()
    out, aux = proj.forward_with_aux(torch.randn(3, 7, 16))
    out.sum().backward()
    losses = proj.aux_losses(aux)
    assert set(losses) == {'loss_balance', 'loss_z'}
    assert proj.usage.sum() == 3 * 7 * 2  # k experts per token
    assert proj.gate.proj.weight.grad.abs().sum() > 0
    proj.eval()
    x = torch.randn(2, 4, 16)
    out, aux = proj.forward_with_aux(x)
    assert torch.equal(out, proj(x))
    assert proj.aux_losses(aux) == {}


def test_adaptive_moe_uses_the_selected_layer_projection():
    torch.manual_seed(0)
    proj = AdaptiveMoEProjector(8, 8, num_layers=2)
    x = torch.randn(2, 3, 8)
    w = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    out = proj(x, w)
    assert torch.allclose(out[0], proj.projs[0](x[0]), atol=1e-6)
    assert torch.allclose(out[1], proj.projs[1](x[1]), atol=1e-6)
    with pytest.raises(ValueError, match='num_layers'):
        proj(x, torch.ones(2, 3) / 3)
    with pytest.raises(ValueError, match='router'):
        proj(x)
