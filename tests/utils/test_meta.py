"""meta_build: full-size configs build without weights or network."""
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

from llava_detseg.models.utils import load_hf_config, load_hf_model
from llava_detseg.registry import MODELS
from llava_detseg.utils import is_meta_build, meta_build

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
FULL_MODEL = osp.join(ROOT, 'configs', '_base_', 'models',
                      'llava-detseg_clip-l14-336_vicuna-7b.py')


def _numel(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def test_full_size_model_builds_on_meta_with_published_sizes():
    init_default_scope('llava_detseg')
    cfg = Config.fromfile(FULL_MODEL)
    with meta_build():
        assert is_meta_build()
        model = MODELS.build(cfg.model)
    assert not is_meta_build()
    devices = {p.device.type for p in model.parameters()}
    assert devices == {'meta'}
    # CLIP ViT-L/14-336 vision tower: 303.5M; LLaVA-1.5-7B without its
    # vision tower: Vicuna-7B (6.74B with 32064 rows) + projector (21M).
    assert abs(_numel(model.backbone) / 303.5e6 - 1) < 0.005
    lm = model.language.llava.model.language_model
    assert lm.config.num_hidden_layers == 32
    assert abs(_numel(model.language) / 6.76e9 - 1) < 0.005
    assert model.language.vision_hidden_size == model.backbone.embed_dims


def test_meta_build_reads_local_folders_without_weights(tiny_ckpt):
    from transformers import CLIPVisionModel
    with meta_build():
        vit = load_hf_model(CLIPVisionModel, tiny_ckpt['clip'])
    real = load_hf_model(CLIPVisionModel, tiny_ckpt['clip'])
    assert next(vit.parameters()).is_meta
    assert _numel(vit) == _numel(real)


def test_composite_hub_config_is_narrowed_to_the_vision_model():
    from transformers import CLIPVisionModel
    config = load_hf_config(CLIPVisionModel,
                            'openai/clip-vit-large-patch14-336')
    assert (config.hidden_size, config.patch_size, config.image_size) == \
        (1024, 14, 336)


def test_unknown_hub_id_names_the_bundled_folder():
    from transformers import CLIPVisionModel
    with meta_build(), pytest.raises(FileNotFoundError, match='hf_configs'):
        load_hf_model(CLIPVisionModel, 'someone/unknown-model')
