import copy
import os.path as osp

import pytest
import torch
from mmengine.registry import init_default_scope

from llava_detseg.registry import DATASETS, MODELS


@pytest.fixture
def model_and_batch(cfg):
    init_default_scope('llava_detseg')
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    dataset = DATASETS.build(cfg.train_dataloader.dataset)
    batch = dict(inputs=[], data_samples=[])
    for i in range(2):
        item = dataset[i]
        batch['inputs'].append(item['inputs'])
        batch['data_samples'].append(item['data_samples'])
    return model, batch


def test_loss_has_every_task_and_reaches_only_trainable_parts(
        model_and_batch):
    model, batch = model_and_batch
    # freeze the backbone and the language model as a full-size run does
    model.backbone.vit.requires_grad_(False)
    model.language.llava.model.language_model.requires_grad_(False)
    data = model.data_preprocessor(copy.deepcopy(batch), training=True)
    losses = model(**data, mode='loss')
    assert {'det.loss_cls', 'det.loss_bbox', 'seg.loss_ce',
            'vqa.loss_lm'} <= set(losses)
    total, _ = model.parse_losses(losses)
    total.backward()
    grads = {n: p.grad for n, p in model.named_parameters()}
    for name, param in model.named_parameters():
        if param.requires_grad:
            continue
        assert grads[name] is None, name
    for part in ('det_head', 'seg_head', 'neck', 'language.llava.model.'
                 'multi_modal_projector', 'language.llava.lm_head'):
        assert any(g is not None and g.abs().sum() > 0
                   for n, g in grads.items() if n.startswith(part)), part


def test_loss_weights_scale_their_task(model_and_batch):
    model, batch = model_and_batch
    data = model.data_preprocessor(copy.deepcopy(batch), training=True)
    torch.manual_seed(0)
    base = model(**copy.deepcopy(data), mode='loss')
    model.loss_weights['seg'] = 0.5
    torch.manual_seed(0)
    half = model(**copy.deepcopy(data), mode='loss')
    assert torch.allclose(half['seg.loss_ce'], 0.5 * base['seg.loss_ce'])
    assert torch.allclose(half['det.loss_cls'], base['det.loss_cls'])


def test_predict_fills_what_the_metrics_read(model_and_batch):
    model, batch = model_and_batch
    model.eval()
    data = model.data_preprocessor(copy.deepcopy(batch), training=False)
    with torch.no_grad():
        out = model(**data, mode='predict')
    for sample in out:
        h, w = sample.ori_shape
        assert sample.pred_sem_seg.data.shape == (1, h, w)
        assert int(sample.pred_sem_seg.data.max()) < 4
        inst = sample.pred_instances
        assert inst.bboxes.shape[1] == 4 and len(inst.scores) == len(
            inst.labels)
        n = len(sample.conversations)
        assert len(sample.pred_answers) == len(sample.gt_answers) == n > 0
        assert all(isinstance(a, str) for a in sample.pred_answers)
    tensors = model(data['inputs'], mode='tensor')
    assert set(tensors) == {'neck', 'det', 'seg', 'image_tokens'}


def test_predict_scores_the_conversations_answer_tokens(model_and_batch):
    """Pooled answer_nll / answer_tokens of predict is the language loss of
    the same conversations (what AnswerLossMetric turns into perplexity)."""
    model, batch = model_and_batch
    model.eval()
    data = model.data_preprocessor(copy.deepcopy(batch), training=False)
    with torch.no_grad():
        out = model(**copy.deepcopy(data), mode='predict')
        _, vit = model.extract_feat(data['inputs'])
        tokens = model._vqa_tokens(vit, [0, 1], out)
        convs = [(i, c) for i, s in enumerate(out) for c in s.conversations]
        want = model.language.loss(tokens, [c for _, c in convs],
                                   [i for i, _ in convs])['loss_lm']
    nll = sum(s.answer_nll for s in out)
    count = sum(s.answer_tokens for s in out)
    assert count > len(convs)  # every answer has tokens, </s> included
    assert nll / count == pytest.approx(float(want), rel=1e-4)


def test_detached_conversations_train_the_language_model_only(
        model_and_batch):
    """A conversation flagged ``detach_image`` (ImageLevelConversations'
    caption and class turns) scores the same, but its gradient stops at the
    image tokens; the language model still learns from it."""
    from llava_detseg.models.language.conversation import DETACH_IMAGE
    model, batch = model_and_batch
    convs = [c for s in batch['data_samples'] for c in s.conversations][:2]
    assert len(convs) == 2
    flagged = [[dict(c[0], **{DETACH_IMAGE: True})] + list(c[1:])
               for c in convs]
    lm_head = model.language.llava.lm_head.weight
    image = torch.randn(
        1, 64, model.language.llava.config.text_config.hidden_size)
    results = []
    for which in (convs, flagged):
        model.zero_grad()
        tokens = image.clone().requires_grad_(True)
        loss = model.language.loss(tokens, which, [0, 0])['loss_lm']
        loss.backward()
        results.append((float(loss), tokens.grad, lm_head.grad.clone()))
    (plain, g_plain, lm_plain), (det, g_det, lm_det) = results
    assert det == pytest.approx(plain, rel=1e-5)
    assert g_plain is not None and g_plain.abs().sum() > 0
    assert g_det is None
    assert torch.allclose(lm_det, lm_plain, atol=1e-6)
    assert lm_det.abs().sum() > 0


def test_samples_go_only_to_their_tasks(model_and_batch):
    model, batch = model_and_batch
    batch['data_samples'][0].set_metainfo(dict(tasks=['det']))
    batch['data_samples'][1].set_metainfo(dict(tasks=['vqa']))
    model.eval()
    data = model.data_preprocessor(copy.deepcopy(batch), training=False)
    with torch.no_grad():
        first, second = model(**data, mode='predict')
    assert 'pred_instances' in first and 'pred_answers' not in first
    assert 'pred_sem_seg' not in first
    assert 'pred_answers' in second and 'pred_instances' not in second


def test_bad_model_config_is_named(cfg):
    init_default_scope('llava_detseg')
    bad = copy.deepcopy(cfg.model)
    bad.backbone.pretrained = cfg.model.language.pretrained + '-missing'
    with pytest.raises(FileNotFoundError, match='-missing" does not exist'):
        MODELS.build(bad)
    bad = copy.deepcopy(cfg.model)
    bad.loss_weights = dict(depth=1.0)
    with pytest.raises(Exception, match='unknown tasks'):
        MODELS.build(bad)


def test_router_with_text_answers_routes_the_text_path(
        tiny_ckpt, shapes_root):
    """<DET>/<SEG> answers read the router's tokens (through the MoE
    projector), in the loss and in prediction alike."""
    from mmengine.config import Config

    from conftest import TEXT_CONFIG, tiny_config
    router = Config.fromfile(osp.join(
        osp.dirname(TEXT_CONFIG),
        'llava-detseg_clip-tiny_llama-tiny_router-moe_1xb16-7e_shapes.py'))
    cfg = tiny_config(tiny_ckpt, shapes_root, config=TEXT_CONFIG)
    cfg.model.router = router.model.router
    cfg.model.language.projector = router.model.language.projector
    init_default_scope('llava_detseg')
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    dataset = DATASETS.build(cfg.train_dataloader.dataset)
    items = [dataset[i] for i in range(2)]
    batch = dict(inputs=[it['inputs'] for it in items],
                 data_samples=[it['data_samples'] for it in items])
    assert all(s.text_conversations for s in batch['data_samples'])
    calls = []
    real = model.router.forward

    def spy(task, *args, **kwargs):
        calls.append(task)
        return real(task, *args, **kwargs)

    model.router.forward = spy
    data = model.data_preprocessor(copy.deepcopy(batch), training=True)
    losses = model(**data, mode='loss')
    assert torch.isfinite(losses['text.loss_lm'])
    # vqa questions and text answers: the vqa path, routed twice
    assert calls.count('vqa') == 2
    losses['text.loss_lm'].backward()
    proj = model.language.projector
    assert any(p.grad is not None and p.grad.abs().sum() > 0
               for p in proj.parameters())
    model.eval()
    calls.clear()
    data = model.data_preprocessor(copy.deepcopy(batch), training=False)
    with torch.no_grad():
        out = model(**data, mode='predict')
    assert all(isinstance(t, str) for s in out for t in s.pred_texts)
    assert 'vqa' in calls
