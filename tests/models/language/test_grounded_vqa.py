"""Grounded VQA (text_cfg.vqa_context) and region features
(language.region_features) in the model: questions read the det head's
boxes, and each box's name token carries the image tokens under it
(the feature itself: test_region_features.py)."""
import pytest
import torch
from mmengine.registry import init_default_scope

from llava_detseg.models.language.conversation import (insert_context,
                                                       with_context)
from llava_detseg.models.language.text_tasks import TextTaskIO
from llava_detseg.registry import DATASETS, MODELS

CLASSES = ('circle', 'square', 'triangle')


def test_insert_context_puts_the_block_after_the_image():
    assert insert_context('<image>\nHow many?', '<DET>x</DET>') == \
        '<image>\n<DET>x</DET>\nHow many?'
    assert insert_context('<image>\nHow many?', '') == '<image>\nHow many?'
    assert insert_context('How many?', '<DET>x</DET>') == 'How many?'
    conv = [dict({'from': 'human', 'value': '<image>\nQ'}, detach_image=1),
            {'from': 'gpt', 'value': 'A'}]
    out = with_context(conv, 'C')
    assert out[0]['value'] == '<image>\nC\nQ' and out[0]['detach_image']
    assert conv[0]['value'] == '<image>\nQ' and out[1] is conv[1]
    # vqa_context.position='question': the block after the question
    assert insert_context('<image>\nHow many?', '<DET>x</DET>', True) == \
        '<image>\nHow many?\n<DET>x</DET>'
    assert with_context(conv, 'C', True)[0]['value'] == '<image>\nQ\nC'


def test_context_segment_marks_the_prompt_blocks(tokenizer):
    from llava_detseg.models.language.context_segment import ContextSegment
    seg = ContextSegment(tokenizer, 4, std=0.5)
    text = ('Q <DET>circle <loc_1><loc_2><loc_3><loc_4></DET> circle '
            '<SEG>square <poly><loc_1><loc_2></poly></SEG> A <DET>x</DET>')
    ids = tokenizer(text, add_special_tokens=False).input_ids
    det_open = tokenizer.convert_tokens_to_ids('<DET>')
    limit = len(ids) - ids[::-1].index(det_open) - 1  # the answer's block
    inside = seg.mask(ids, limit)
    words = [tokenizer.decode(i).strip() for i in ids]
    marked = [w for w, m in zip(words, inside) if m]
    assert marked[0] == '<DET>' and marked[-1] == '</SEG>'
    assert '</DET>' in marked and '<SEG>' in marked
    # the question's words between the blocks, and the answer, are not
    between = words.index('</DET>') + 1
    assert words[between] == 'circle' and not inside[between]
    assert not inside[limit:].any() and not inside[0]
    emb = torch.zeros(len(ids), 4)
    out = seg(emb, ids, limit)
    assert torch.equal(out[inside], seg.embedding.detach().expand(
        int(inside.sum()), 4))
    assert not out[~inside].any()


def test_vqa_context_options_are_checked():
    text = TextTaskIO(CLASSES, context_max_boxes=7, vqa_context=dict())
    assert text.vqa_context == dict(score_thr=0.3, max_boxes=7,
                                   train_prob=1.0, position='image')
    assert not text.vqa_context_after_question
    assert TextTaskIO(CLASSES, vqa_context=dict(
        position='question')).vqa_context_after_question
    assert TextTaskIO(CLASSES).vqa_context is None
    assert not TextTaskIO(CLASSES).vqa_context_after_question
    for bad, match in ((dict(thr=0.3), 'unknown keys'),
                       (dict(position='end'), 'position'),
                       (dict(score_thr=2), 'score_thr'),
                       (dict(max_boxes=0), 'max_boxes'),
                       (dict(train_prob=-0.1), 'train_prob')):
        with pytest.raises(ValueError, match=match):
            TextTaskIO(CLASSES, vqa_context=bad)


def _batch(cfg, split):
    dataset = DATASETS.build(cfg[f'{split}_dataloader'].dataset)
    items = [dataset[i] for i in range(2)]
    return dict(inputs=[i['inputs'] for i in items],
                data_samples=[i['data_samples'] for i in items])


def _grounded_model(cfg, regions=True, score_thr=0.0, position='image'):
    init_default_scope('llava_detseg')
    torch.manual_seed(0)
    cfg.model.language.special_tokens = dict()
    cfg.model.language.region_features = regions
    cfg.model.text_cfg = dict(
        classes=CLASSES, context_max_boxes=4,
        vqa_context=dict(score_thr=score_thr, position=position))
    cfg.model.test_cfg.det.score_thr = 0.0  # a random FCOS scores ~0.01
    model = MODELS.build(cfg.model)
    model.init_weights()
    return model


def _question_responses(model, cfg):
    """``(response, boxes the block should hold)`` of every question of two
    val images, predicted with questions only (det still runs)."""
    model.eval()
    data = model.data_preprocessor(_batch(cfg, 'val'), training=False)
    for sample in data['data_samples']:
        sample.set_metainfo(dict(tasks=('vqa', )))
    out = []
    for sample in model(**data, mode='predict'):
        vqa = [r for r in sample.responses if not r.request.wants_blocks]
        assert vqa
        want = min(4, len(sample.pred_instances))
        out += [(r, want) for r in vqa]
    return out


def test_grounded_vqa_trains_and_answers_with_the_boxes(cfg):
    model = _grounded_model(cfg)
    seen = []
    loss = model.language.loss

    def spy(tokens, convs, owner, **kw):
        seen.extend(convs)
        return loss(tokens, convs, owner, **kw)

    model.language.loss = spy
    data = model.data_preprocessor(_batch(cfg, 'train'), training=True)
    losses = model(**data, mode='loss')
    assert torch.isfinite(losses['vqa.loss_lm'])
    samples = data['data_samples']
    firsts = [c[0]['value'] for c in seen]
    assert len(firsts) == sum(
        len(s.metainfo['conversations']) for s in samples)
    for value in firsts:  # the annotated boxes, before the question
        assert value.startswith('<image>\n<DET>')
    n_gt = [len(s.gt_instances) for s in samples]
    assert sorted(v.count('<loc_') // 4 for v in firsts[:1]) == \
        [min(4, n_gt[0])]
    # the gate (0 at first) learns whether to read the region features
    model.language.loss = loss
    gate = model.language.region_gate
    assert gate.item() == 0
    model.zero_grad()
    model(**data, mode='loss')['vqa.loss_lm'].backward()
    assert gate.grad is not None and gate.grad.abs().item() > 0

    for r, want in _question_responses(model, cfg):
        assert r.prompt.count('<loc_') // 4 == want
        assert r.prompt.endswith(r.request.question.split('\n')[-1])


def test_block_after_the_question_trains_and_answers(cfg):
    """``vqa_context.position='question'``: the block ends the prompt in
    training and prediction alike, and its boxes still get their region
    features."""
    model = _grounded_model(cfg, regions='token', position='question')
    seen = []
    loss = model.language.loss

    def spy(tokens, convs, owner, **kw):
        seen.extend(convs)
        return loss(tokens, convs, owner, **kw)

    pooled = []
    pool = model.language.regions.pool

    def pool_spy(boxes, *args, **kw):
        pooled.append(len(boxes))
        return pool(boxes, *args, **kw)

    model.language.loss = spy
    model.language.regions.pool = pool_spy
    data = model.data_preprocessor(_batch(cfg, 'train'), training=True)
    assert torch.isfinite(model(**data, mode='loss')['vqa.loss_lm'])
    assert seen
    # every question's block boxes got their region rows
    n_boxes = sum(c[0]['value'].count('<loc_') // 4 for c in seen)
    assert n_boxes and sum(pooled) >= n_boxes
    for conv in seen:
        value = conv[0]['value']
        assert value.startswith('<image>\n') and value.endswith('</DET>')
        assert '?\n<DET>' in value
    model.language.loss = loss
    for r, want in _question_responses(model, cfg):
        question = r.request.question.split('\n')[-1]
        assert r.prompt.endswith('</DET>')
        assert r.prompt.startswith(f'<image>\n{question}\n<DET>')
        assert r.prompt.count('<loc_') // 4 == want


def test_linear_region_mixer_starts_silent_and_learns(cfg):
    """``region_features='linear'``: LayerNorm + a zero-initialised linear
    layer; the first pass equals no region features, and the layer gets
    gradients (the scalar gate's stayed near 0 in training)."""
    model = _grounded_model(cfg, regions='linear')
    assert not hasattr(model.language, 'region_gate')
    linear = model.language.region_proj[1]
    assert linear.weight.abs().sum() == 0
    data = model.data_preprocessor(_batch(cfg, 'train'), training=True)
    torch.manual_seed(1)
    with_regions = model(**data, mode='loss')['vqa.loss_lm']
    model.language.regions = None
    torch.manual_seed(1)
    without = model(**data, mode='loss')['vqa.loss_lm']
    assert torch.allclose(with_regions, without)
    model = _grounded_model(cfg, regions='linear')
    model(**data, mode='loss')['vqa.loss_lm'].backward()
    linear = model.language.region_proj[1]
    assert linear.weight.grad is not None
    assert linear.weight.grad.abs().sum() > 0
    cfg.model.language.region_features = 'mean'
    with pytest.raises(ValueError, match='region_features must be'):
        MODELS.build(cfg.model)


def test_norm_region_mixer_adds_at_the_embeddings_size(cfg):
    """``region_features='norm'``: the region is layer-normed to the token
    embeddings' std, so it reaches the names from the first step, and its
    scale trains."""
    model = _grounded_model(cfg, regions='norm')
    language = model.language
    emb_std = float(language.llava.get_input_embeddings().weight.std())
    norm = language.region_proj
    assert isinstance(norm, torch.nn.LayerNorm)
    assert torch.allclose(norm.weight, torch.full_like(norm.weight, emb_std))
    feats = torch.randn(3, norm.weight.numel()) * 10  # image tokens are big
    mixed = language._mix_region(feats)
    assert torch.allclose(mixed.std(dim=1), torch.full((3, ), emb_std),
                          rtol=0.05)
    data = model.data_preprocessor(_batch(cfg, 'train'), training=True)
    torch.manual_seed(1)
    with_regions = model(**data, mode='loss')['vqa.loss_lm']
    with_regions.backward()
    assert norm.weight.grad is not None and norm.weight.grad.abs().sum() > 0
    language.regions = None
    torch.manual_seed(1)
    without = model(**data, mode='loss')['vqa.loss_lm']
    assert not torch.allclose(with_regions, without)


def test_region_token_mode_trains_and_answers(cfg):
    """``region_features='token'``: each prompt box gets one more row; the
    loss is computed on the same answer tokens and the features train the
    projector; prediction runs."""
    model = _grounded_model(cfg, regions='token')
    assert not hasattr(model.language, 'region_gate')
    lang = model.language
    data = model.data_preprocessor(_batch(cfg, 'train'), training=True)
    rows = []
    embed = lang._embed

    def spy(ids, image, limit=None, labels=None, emb=None):
        out, lab = embed(ids, image, limit, labels, emb=emb)
        n_box = len(lang.regions.scan(ids, limit))
        n_img = int(-200 in ids) * (image.shape[0] - 1)
        rows.append((out.shape[0], len(ids) + n_box + n_img, n_box, lab))
        return out, lab

    lang._embed = spy
    torch.manual_seed(1)
    loss = model(**data, mode='loss')['vqa.loss_lm']
    assert rows and all(got == want for got, want, _, _ in rows)
    assert sum(n for _, _, n, _ in rows) > 0  # the prompts hold boxes
    assert all(len(lab) == got for got, _, _, lab in rows)
    lang._embed = embed
    model.zero_grad()
    loss.backward()
    assert lang.projector.linear_1.weight.grad.abs().sum() > 0
    model.eval()
    data = model.data_preprocessor(_batch(cfg, 'val'), training=False)
    out = model(**data, mode='predict')
    assert all(isinstance(r.text, str) for s in out for r in s.responses)
    # a chat's later turn: the history's answer boxes get no region rows
    box = '<DET>circle <loc_1><loc_2><loc_300><loc_400></DET>'
    history = [{'from': 'human', 'value': f'<image>\n{box}\nDetect.'},
               {'from': 'gpt', 'value': box}]
    rows.clear()
    lang._embed = spy
    lang.predict(torch.zeros(1, 64, lang.projector.linear_2.out_features),
                 ['Detect the circles.'], [0], max_new_tokens=1,
                 histories=[history])
    (_, _, n_box, _), = rows
    assert n_box == 1


def test_context_segment_trains(cfg):
    cfg.model.language.context_segment = True
    model = _grounded_model(cfg, regions=False)
    vec = model.language.context_segment.embedding
    assert vec.abs().sum() > 0  # starts apart from the question's words
    data = model.data_preprocessor(_batch(cfg, 'train'), training=True)
    model(**data, mode='loss')['vqa.loss_lm'].backward()
    assert vec.grad is not None and vec.grad.abs().sum() > 0
    cfg.model.language.special_tokens = None
    cfg.model.text_cfg = None
    with pytest.raises(ValueError, match='context_segment needs'):
        MODELS.build(cfg.model)


def test_score_thr_filters_the_question_context(cfg):
    model = _grounded_model(cfg, regions=False, score_thr=1.0)
    model.eval()
    data = model.data_preprocessor(_batch(cfg, 'val'), training=False)
    out = model(**data, mode='predict')
    for sample in out:  # no box scores 1.0: an empty block
        for r in sample.responses:
            if not r.request.wants_blocks:
                assert '<DET></DET>' in r.prompt


def test_vqa_context_needs_a_det_head(cfg):
    init_default_scope('llava_detseg')
    cfg.model.det_head = None
    cfg.model.text_cfg = dict(classes=CLASSES, vqa_context=dict())
    with pytest.raises(ValueError, match='vqa_context'):
        MODELS.build(cfg.model)
    cfg.model.text_cfg = dict(classes=CLASSES)
    cfg.model.language.region_features = True
    with pytest.raises(ValueError, match='region_features'):
        MODELS.build(cfg.model)


def test_train_context_is_the_annotations_or_none_by_train_prob():
    from mmdet.structures import DetDataSample
    from mmengine.structures import InstanceData
    sample = DetDataSample(metainfo=dict(img_shape=(100, 200)))
    sample.gt_instances = InstanceData(
        bboxes=torch.tensor([[0., 0, 20, 10], [0, 0, 100, 50]]),
        labels=torch.tensor([0, 2]))
    text = TextTaskIO(CLASSES, vqa_context=dict())
    # largest first, in bins of the image's own frame
    assert text.vqa_train_context(sample) == (
        '<DET>triangle <loc_0><loc_0><loc_500><loc_500>; circle '
        '<loc_0><loc_0><loc_100><loc_100></DET>')
    never = TextTaskIO(CLASSES, vqa_context=dict(train_prob=0.0))
    assert never.vqa_train_context(sample) == ''
    torch.manual_seed(0)
    half = TextTaskIO(CLASSES, vqa_context=dict(train_prob=0.5))
    given = sum(bool(half.vqa_train_context(sample)) for _ in range(400))
    assert 150 < given < 250
    assert TextTaskIO(CLASSES).vqa_train_context(sample) == ''
