import copy

import pytest
import torch
from mmengine.registry import init_default_scope

from llava_detseg.models.routers import GatedFeatureRouter
from llava_detseg.models.routers.moe import AuxOutputs
from llava_detseg.registry import DATASETS, MODELS

C, HW = 16, 4


def _router(**kw):
    cfg = dict(in_channels=C, in_layers=(1, 2, 3), num_levels=2,
               instruction_dims=8, cond_dims=8, num_experts=4, top_k=2)
    cfg.update(kw)
    return GatedFeatureRouter(**cfg)


def _hidden(b=3):
    return [torch.randn(b, 1 + HW * HW, C) for _ in range(4)]


def test_layer_gates_sum_to_one_per_task_and_level():
    torch.manual_seed(0)
    router = _router()
    # move the gates off their uniform start
    for head in router.layer_heads.values():
        torch.nn.init.normal_(head.weight)
        torch.nn.init.normal_(head.bias)
    instr = torch.randn(3, 8)
    for task, levels in (('det', 2), ('seg', 2), ('vqa', 1)):
        cond = router._cond(task, instr, 3, torch.device('cpu'))
        w = router.layer_weights(task, cond, 3, torch.device('cpu'))
        assert w.shape == (3, levels, 3)
        assert torch.allclose(w.sum(-1), torch.ones(3, levels))
        assert (w > 0).all()
    # the instruction changes the gates
    cond_a = router._cond('det', instr, 3, torch.device('cpu'))
    cond_b = router._cond('det', -instr, 3, torch.device('cpu'))
    assert not torch.allclose(
        router.layer_weights('det', cond_a, 3, 'cpu'),
        router.layer_weights('det', cond_b, 3, 'cpu'))


def test_outputs_shapes_maps_and_losses():
    router = _router()
    router.train()
    tokens, weights, aux = router('det', _hidden(), torch.randn(3, 8))
    assert len(tokens) == 2 and tokens[0].shape == (3, 1 + HW * HW, C)
    maps = router.to_maps(tokens, (HW, HW))
    assert maps[0].shape == (3, C, HW, HW)
    assert weights.shape == (3, 3)
    tokens, _, vqa_aux = router('vqa', _hidden(), torch.randn(3, 8))
    assert len(tokens) == 1
    aux += vqa_aux
    losses = router.aux_losses(aux)
    assert set(losses) == {'loss_balance', 'loss_z'}
    assert router.aux_losses(AuxOutputs()) == {}
    usage = router.stats.sums['expert_usage/det']
    # top-2 of 4: every token dispatched to exactly two pool experts
    assert usage.sum() == 2 * 2 * 3 * (1 + HW * HW)


def test_gradients_reach_gates_experts_and_layer_heads():
    torch.manual_seed(0)
    router = _router()
    router.train()
    out, aux = 0, AuxOutputs()
    for task in ('det', 'seg', 'vqa'):
        tokens, _, routed = router(task, _hidden(), torch.randn(3, 8))
        out = out + sum(t.pow(2).mean() for t in tokens)
        aux += routed
    loss = out + sum(router.aux_losses(aux).values())
    loss.backward()
    for name, p in router.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_eval_is_deterministic_and_noise_free():
    torch.manual_seed(0)
    router = _router(noise_std=10.0)
    hidden, instr = _hidden(), torch.randn(3, 8)
    router.eval()
    a, _, _ = router('seg', hidden, instr)
    b, _, _ = router('seg', hidden, instr)
    assert all(torch.equal(x, y) for x, y in zip(a, b))
    router.train()
    c, _, _ = router('seg', hidden, instr)
    assert not all(torch.equal(x, y) for x, y in zip(a, c))


def test_fixed_mix_is_the_equal_average_without_parameters():
    router = _router(layer_gate='fixed', shared_expert=False,
                     task_experts=False, num_experts=0)
    assert not list(router.parameters())
    hidden = _hidden()
    tokens, weights, aux = router('det', hidden, None)
    mean = torch.stack(hidden[1:4]).mean(0)
    assert torch.allclose(tokens[0], mean, atol=1e-6)
    assert torch.allclose(weights, torch.full((3, 3), 1 / 3))
    assert router.aux_losses(aux) == {}


def test_bad_config_is_named():
    with pytest.raises(ValueError, match='router.layer_gate'):
        _router(layer_gate='soft')
    with pytest.raises(ValueError, match='top_k'):
        _router(top_k=5)
    router = _router(in_layers=(1, 9))
    with pytest.raises(ValueError, match='router.in_layers'):
        router('det', _hidden(), None)


# ---------------------------------------------------------------- detector
@pytest.fixture
def routed(cfg):
    init_default_scope('llava_detseg')
    cfg.model.router = dict(type='GatedFeatureRouter', num_experts=4,
                            top_k=2)
    cfg.model.language.projector = dict(type='moe', num_experts=2, top_k=1)
    dataset = DATASETS.build(cfg.train_dataloader.dataset)
    batch = dict(inputs=[], data_samples=[])
    for i in range(2):
        item = dataset[i]
        batch['inputs'].append(item['inputs'])
        batch['data_samples'].append(item['data_samples'])
    return cfg, batch


def test_router_losses_in_loss_dict_and_router_none_unchanged(routed):
    cfg, batch = routed
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    data = model.data_preprocessor(copy.deepcopy(batch), training=True)
    losses = model(**data, mode='loss')
    assert {'router.loss_balance', 'router.loss_z', 'projector.loss_balance',
            'projector.loss_z', 'det.loss_cls', 'seg.loss_ce',
            'vqa.loss_lm'} <= set(losses)
    total, _ = model.parse_losses(losses)
    total.backward()
    for part in ('router.gate', 'router.layer_heads.det',
                 'router.layer_heads.vqa', 'router.task_experts.seg',
                 'language.mm_projector.gate'):
        assert any(p.grad is not None and p.grad.abs().sum() > 0
                   for n, p in model.named_parameters()
                   if n.startswith(part)), part
    model.eval()
    data = model.data_preprocessor(copy.deepcopy(batch), training=False)
    with torch.no_grad():
        a = model(**copy.deepcopy(data), mode='predict')
        b = model(**copy.deepcopy(data), mode='predict')
    assert torch.equal(a[0].pred_sem_seg.data, b[0].pred_sem_seg.data)
    assert a[0].pred_answers == b[0].pred_answers

    # router=None: no router keys, no router module, same as the old path
    plain = copy.deepcopy(cfg.model)
    plain.pop('router')
    plain.language.pop('projector')
    torch.manual_seed(0)
    model = MODELS.build(plain)
    assert model.router is None and model.language.mm_projector is None
    data = model.data_preprocessor(copy.deepcopy(batch), training=True)
    losses = model(**data, mode='loss')
    assert not any(k.startswith(('router.', 'projector.')) for k in losses)
    feats, vit = model.extract_feat(data['inputs'])
    assert feats is not None and len(feats) == cfg.model.neck[-1].num_outs


def test_layer_selector_trains_its_classifier(routed):
    cfg, batch = routed
    cfg.model.router.layer_selector = dict(
        type='AdaptiveLayerSelector', top_k=2, mode='hard', loss_weight=0.1)
    cfg.model.language.projector = dict(
        type='adaptive_moe', num_layers=len(cfg.model.backbone.out_indices))
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    data = model.data_preprocessor(copy.deepcopy(batch), training=True)
    losses = model(**data, mode='loss')
    assert 'router.loss_layer_cls' in losses
    total, _ = model.parse_losses(losses)
    total.backward()
    sel = model.router.layer_selector
    assert all(p.grad is not None and p.grad.abs().sum() > 0
               for p in sel.parameters())
    hist = model.router.stats.sums['selected_layer']
    assert hist.sum() == 2 and ((hist == 0) | (hist == 1) | (hist == 2)).all()
    # inference: argmax, deterministic
    model.eval()
    data = model.data_preprocessor(copy.deepcopy(batch), training=False)
    with torch.no_grad():
        a = model(data['inputs'], mode='tensor')['image_tokens']
        b = model(data['inputs'], mode='tensor')['image_tokens']
    assert torch.equal(a, b)


def test_router_refuses_several_vision_feature_layers(routed):
    """The router mixes the ViT layers the language model reads: a list of
    ``language.vision_feature_layer`` is refused at build, naming both."""
    cfg, _ = routed
    bad = copy.deepcopy(cfg.model)
    bad.language.vision_feature_layer = [1, -2]
    bad.language.projector = dict(type='mlp2x_gelu', load_pretrained=False)
    with pytest.raises(ValueError, match='model.router.*'
                       'language.vision_feature_layer'):
        MODELS.build(bad)
