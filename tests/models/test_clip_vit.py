import pytest
import torch

from llava_detseg.models import CLIPViTBackbone


def test_taps_are_maps_and_load_through_from_pretrained(tiny_ckpt):
    from transformers import CLIPVisionModel
    ref = CLIPVisionModel.from_pretrained(tiny_ckpt['clip'])
    backbone = CLIPViTBackbone(tiny_ckpt['clip'], out_indices=(1, 2, -1))
    backbone.init_weights()  # must not re-initialise what was loaded
    for (name, p), q in zip(backbone.vit.named_parameters(),
                            ref.parameters()):
        assert torch.equal(p, q), name
    x = torch.randn(2, 3, 96, 160)  # not the checkpoint's 128x128
    out = backbone(x)
    assert backbone.out_indices == (1, 2, 4)
    assert [m.shape for m in out.maps] == [(2, 128, 6, 10)] * 3
    assert len(out.hidden_states) == 5
    # the map of layer 4 is exactly its tokens without CLS
    assert torch.equal(out.maps[2].flatten(2).transpose(1, 2),
                       out.hidden_states[4][:, 1:])


def test_frozen_backbone_gets_no_gradient(tiny_ckpt):
    backbone = CLIPViTBackbone(tiny_ckpt['clip'], out_indices=(4, ),
                               frozen=True)
    backbone.train()
    assert not backbone.vit.training
    assert not any(p.requires_grad for p in backbone.parameters())


def test_bad_arguments_are_named(tiny_ckpt, tmp_path):
    with pytest.raises(ValueError, match='out_indices entry 5'):
        CLIPViTBackbone(tiny_ckpt['clip'], out_indices=(5, ))
    backbone = CLIPViTBackbone(tiny_ckpt['clip'], out_indices=(4, ))
    with pytest.raises(ValueError, match='multiple of the patch size 16'):
        backbone(torch.randn(1, 3, 100, 96))
    with pytest.raises(FileNotFoundError, match='does not exist'):
        CLIPViTBackbone(str(tmp_path / 'missing'), out_indices=(4, ))


def test_token_stride_resizes_the_input_to_an_exact_grid(tiny_ckpt):
    # tiny patch 16; token_stride 32 halves the input before the ViT
    backbone = CLIPViTBackbone(tiny_ckpt['clip'], out_indices=(4, ),
                               token_stride=32)
    plain = CLIPViTBackbone(tiny_ckpt['clip'], out_indices=(4, ))
    x = torch.randn(1, 3, 96, 160)
    out = backbone(x)
    assert out.maps[0].shape[-2:] == (96 // 32, 160 // 32)
    half = torch.nn.functional.interpolate(
        x, size=(48, 80), mode='bilinear', align_corners=False)
    assert torch.allclose(out.maps[0], plain(half).maps[0], atol=1e-5)
    with pytest.raises(ValueError, match='multiple of the token_stride 32'):
        backbone(torch.randn(1, 3, 96, 80))

