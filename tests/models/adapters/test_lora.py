"""TaskAdapters: Conv-LoRA placement, isolation, freezing, loading, merging."""
import copy
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

from conftest import ROOT, tiny_config
from llava_detseg.models.adapters import (adapter_group, adapter_parameters,
                                          adapters_disabled, merge_adapters)
from llava_detseg.registry import DATASETS, MODELS

LORA_BASE = osp.join(ROOT, 'configs', '_base_', 'models', 'lora_adapters.py')


def lora_cfg(**overrides) -> dict:
    adapters = copy.deepcopy(Config.fromfile(LORA_BASE).lora_adapters)
    adapters.update(overrides)
    return adapters.to_dict()


def build(cfg, adapters=None):
    init_default_scope('llava_detseg')
    torch.manual_seed(0)
    model_cfg = copy.deepcopy(cfg.model)
    model_cfg.adapters = adapters
    return MODELS.build(model_cfg)


@pytest.fixture(scope='module')
def adapted(tiny_ckpt, shapes_root):
    """One adapted model for the tests that only look at it."""
    return build(tiny_config(tiny_ckpt, shapes_root), lora_cfg())


@pytest.fixture
def batch(cfg):
    init_default_scope('llava_detseg')
    dataset = DATASETS.build(cfg.train_dataloader.dataset)
    items = [dataset[i] for i in range(2)]
    return dict(inputs=[x['inputs'] for x in items],
                data_samples=[x['data_samples'] for x in items])


def _randomise_lora_b(model):
    # peft starts lora_B at zero (no change); a trained adapter is not zero
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for name, p in adapter_parameters(model).items():
            if 'lora_B' in name:
                p.copy_(torch.randn(p.shape, generator=g) * 0.05)


def test_conv_lora_wraps_every_decoder_conv(cfg, adapted):
    from peft.tuners.lora import Conv2d as LoraConv2d
    from peft.tuners.lora import Linear as LoraLinear
    model = adapted
    convs = [n for n, m in build(cfg).seg_head.named_modules()
             if isinstance(m, torch.nn.Conv2d)]
    assert convs
    for name in convs:
        layer = model.seg_head.get_submodule(name)
        assert isinstance(layer, LoraConv2d), name
        assert layer.r['seg'] == 4
        # the low-rank pair is itself convolutional: k x k down, 1 x 1 up
        assert layer.lora_A['seg'].kernel_size == \
            layer.get_base_layer().kernel_size
    attn = model.backbone.vit.encoder.layers[0].self_attn
    for proj in ('q_proj', 'k_proj', 'v_proj'):
        layer = getattr(attn, proj)
        assert isinstance(layer, LoraLinear)
        assert layer.r['shared'] == 8 and layer.scaling['shared'] == 32 / 8
    lm_attn = model.language.llava.model.language_model.layers[0].self_attn
    assert lm_attn.q_proj.r['vqa'] == 16
    assert lm_attn.q_proj.scaling['vqa'] == 64 / 16
    assert isinstance(model.language.projector.linear_1, LoraLinear)


def test_only_adapters_train_by_default(adapted):
    model = adapted
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    assert trainable
    assert all(adapter_group(n) is not None for n in trainable)
    assert {adapter_group(n) for n in trainable} == {
        'shared', 'det', 'seg', 'vqa'}


def test_train_modules_and_groups_select_what_trains(cfg):
    model = build(cfg, lora_cfg(train_adapters=('det', ),
                                train_modules=('neck', 'det_head')))
    for name, p in model.named_parameters():
        group = adapter_group(name)
        if group is not None:
            assert p.requires_grad == (group == 'det'), name
        else:
            assert p.requires_grad == name.startswith(
                ('neck.', 'det_head.')), name


def test_task_loss_never_reaches_other_tasks_adapters(cfg, batch):
    model = build(cfg, lora_cfg())
    _randomise_lora_b(model)  # so that lora_A gets gradients too
    data = model.data_preprocessor(copy.deepcopy(batch), training=True)
    losses = model(**data, mode='loss')
    params = adapter_parameters(model)
    for task in ('det', 'seg', 'vqa'):
        task_loss = sum(v for k, v in losses.items()
                        if k.startswith(task + '.') and 'loss' in k)
        grads = dict(zip(params, torch.autograd.grad(
            task_loss, list(params.values()), allow_unused=True,
            retain_graph=True)))
        reached = {adapter_group(n) for n, g in grads.items()
                   if g is not None and g.abs().sum() > 0}
        assert reached == {'shared', task}
        for name, g in grads.items():
            if adapter_group(name) not in ('shared', task):
                assert g is None or not g.any(), (task, name)


def test_task_group_in_the_trunk_is_refused(cfg):
    adapters = lora_cfg()
    adapters['groups']['det'] = [dict(part='backbone.vit', r=4,
                                      target_modules=['q_proj'])]
    with pytest.raises(ValueError, match=r'groups\.det\[0\].*outside'):
        build(cfg, adapters)


def test_unknown_part_names_the_config_key(cfg):
    adapters = lora_cfg()
    adapters['groups']['seg'][0]['part'] = 'seg_decoder'
    with pytest.raises(ValueError, match=r'groups\.seg\[0\].*seg_decoder'):
        build(cfg, adapters)


def test_adapter_free_checkpoint_loads_into_adapted_model(cfg):
    from mmengine.runner.checkpoint import load_state_dict
    plain = build(cfg)
    for p in plain.parameters():  # make the weights differ from a rebuild
        p.data.add_(0.01)
    model = build(cfg, lora_cfg())
    load_state_dict(model, plain.state_dict(), strict=False, logger='silent')
    vit = model.backbone.vit.encoder.layers[0].self_attn
    ref = plain.backbone.vit.encoder.layers[0].self_attn
    assert torch.equal(vit.q_proj.base_layer.weight, ref.q_proj.weight)
    assert torch.equal(model.seg_head.conv_seg.base_layer.weight,
                       plain.seg_head.conv_seg.weight)


def _outputs(model, inputs, data_samples):
    with torch.no_grad():
        out = model(inputs, mode='tensor')
        convs = [c for s in data_samples
                 for c in s.metainfo['conversations'][:1]]
        tokens = out['image_tokens']
        logits, _ = model.language.answer_logits(tokens, convs,
                                                 list(range(len(convs))))
    flat = [out['seg'], out['image_tokens'], logits]
    flat += [t for level in out['det'] for t in level]
    return flat


def test_merged_model_gives_the_same_outputs(cfg, batch):
    model = build(cfg, lora_cfg())
    _randomise_lora_b(model)
    model.eval()
    data = model.data_preprocessor(copy.deepcopy(batch), training=False)
    before = _outputs(model, data['inputs'], data['data_samples'])
    with adapters_disabled(model):
        base = _outputs(model, data['inputs'], data['data_samples'])
    merge_adapters(model)
    assert not adapter_parameters(model)
    after = _outputs(model, data['inputs'], data['data_samples'])
    # float32, only the summation order changes: 1e-4 absolute + 1e-4
    # relative (measured: ~1e-5 at most on outputs of order 1)
    for b, a in zip(before, after):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)
    # and the adapters did change the outputs (the test can fail)
    assert not torch.allclose(before[0], base[0], atol=1e-4)
    # merged keys are the adapter-free ones: a plain model loads them
    plain = build(cfg)
    plain.load_state_dict(model.state_dict())


def test_adapters_disabled_restores_requires_grad(cfg):
    model = build(cfg, lora_cfg(train_adapters=('seg', )))
    flags = {n: p.requires_grad for n, p in model.named_parameters()}
    with adapters_disabled(model):
        pass
    assert flags == {n: p.requires_grad for n, p in model.named_parameters()}


def test_l2_penalty_on_adapters(cfg, batch):
    model = build(cfg, lora_cfg(l2_weight=0.5))
    _randomise_lora_b(model)
    data = model.data_preprocessor(copy.deepcopy(batch), training=True)
    losses = model(**data, mode='loss')
    expected = 0.5 * sum(p.pow(2).sum()
                         for p in adapter_parameters(model).values())
    torch.testing.assert_close(losses['adapters.loss_l2'], expected)


def test_adapters_start_as_no_change_after_init_weights(cfg):
    # mmdet's FCOSHead init_cfg targets every layer named Conv2d, peft's
    # LoRA convs included; the model puts peft's init back afterwards
    model = build(cfg, lora_cfg())
    model.init_weights()
    params = adapter_parameters(model)
    b = {n: p for n, p in params.items() if 'lora_B' in n}
    assert any(n.startswith('det_head.') for n in b)
    assert all(not p.any() for p in b.values())
    assert all(p.any() for n, p in params.items() if 'lora_A' in n)


def test_new_token_rows_train_under_adapters(cfg):
    """The text format's token rows learn while the LLM is adapted."""
    cfg.model.language.special_tokens = dict(num_bins=16)
    model = build(cfg, lora_cfg())
    deltas = {n: p for n, p in model.named_parameters()
              if n.endswith('special_delta')}
    assert len(deltas) == 2  # input embedding and lm_head rows
    assert all(p.requires_grad for p in deltas.values())
    frozen = model.language.llava.lm_head.weight
    assert not frozen.requires_grad


def test_groups_of_absent_tasks_are_skipped(cfg):
    """A task switched off (det-only ablation) takes its adapters with it."""
    cfg.model.seg_head = None
    cfg.model.language = None
    model = build(cfg, lora_cfg())
    groups = {adapter_group(n) for n, _ in model.named_parameters()}
    assert groups - {None} == {'shared', 'det'}
