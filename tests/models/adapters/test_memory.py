"""Memory options: quantisation checks and gradient checkpointing."""
import copy

import pytest
import torch
from mmengine.registry import init_default_scope

from llava_detseg.models.adapters import (check_quantization,
                                          enable_gradient_checkpointing)
from llava_detseg.registry import DATASETS, MODELS


@pytest.mark.skipif(torch.cuda.is_available(), reason='needs a CPU machine')
@pytest.mark.parametrize('mode', ['4bit', '8bit'])
def test_quantisation_without_cuda_fails_at_start(cfg, mode):
    with pytest.raises(RuntimeError, match='language.quantization.*CUDA'):
        check_quantization(mode, 'language.quantization')
    cfg.model.language.quantization = mode
    init_default_scope('llava_detseg')
    with pytest.raises(RuntimeError, match='needs a CUDA GPU'):
        MODELS.build(cfg.model)


def test_quantisation_mode_is_checked():
    assert check_quantization(None) is None
    with pytest.raises(ValueError, match='"4bit" or "8bit"'):
        check_quantization('3bit')


def test_gradient_checkpointing_gives_the_same_gradients(cfg):
    init_default_scope('llava_detseg')
    dataset = DATASETS.build(cfg.train_dataloader.dataset)
    batch = dict(inputs=[dataset[0]['inputs']],
                 data_samples=[dataset[0]['data_samples']])
    grads = []
    for checkpointing in (False, True):
        torch.manual_seed(0)
        model = MODELS.build(
            dict(cfg.model, gradient_checkpointing=checkpointing))
        model.train()
        if checkpointing:
            assert model.backbone.vit.is_gradient_checkpointing
            assert model.language.llava.is_gradient_checkpointing
        data = model.data_preprocessor(copy.deepcopy(batch), training=True)
        loss, _ = model.parse_losses(model(**data, mode='loss'))
        loss.backward()
        grads.append(model.backbone.vit.encoder.layers[0].self_attn.q_proj.
                     weight.grad.clone())
    torch.testing.assert_close(grads[0], grads[1], rtol=1e-4, atol=1e-6)


def test_gradient_checkpointing_needs_a_hf_model():
    with pytest.raises(ValueError, match='gradient_checkpointing'):
        enable_gradient_checkpointing(torch.nn.Linear(2, 2))
