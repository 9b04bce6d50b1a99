"""Grounded VQA (text_cfg.vqa_context) and region features
(language.region_features): questions read the det head's boxes, and each
box's name token carries the image tokens under it."""
import pytest
import torch
from mmengine.registry import init_default_scope

from llava_detseg.models.language.conversation import (insert_context,
                                                       with_context)
from llava_detseg.models.language.region_features import RegionFeatures
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


@pytest.fixture(scope='module')
def tokenizer():
    from llava_detseg.models.language import build_tiny_tokenizer
    return build_tiny_tokenizer(detseg_tokens=True)


def test_region_items_are_the_prompt_boxes(tokenizer):
    regions = RegionFeatures(tokenizer, 1000)
    text = ('<DET>circle <loc_0><loc_0><loc_499><loc_499>; square '
            '<loc_500><loc_500><loc_999><loc_999></DET> <SEG>circle <poly>'
            '<loc_1><loc_2><loc_3><loc_4></poly></SEG> Q <DET>triangle '
            '<loc_9><loc_9><loc_20><loc_20></DET>')
    ids = tokenizer(text, add_special_tokens=False).input_ids
    found = regions.items(ids)
    # the <SEG> polygon's four locs are no box
    assert [box for _, box in found] == [[0, 0, 499, 499],
                                         [500, 500, 999, 999], [9, 9, 20, 20]]
    for (pos, _), name in zip(found, ('circle', 'square', 'triangle')):
        # the last piece of the class name, not the space before the locs
        piece = tokenizer.decode(ids[pos]).strip()
        assert piece and name.endswith(piece)
    last_open = len(ids) - ids[::-1].index(regions.det_open) - 1
    assert len(regions.items(ids, limit=last_open)) == 2
    # area weights: the top-left quarter of a 2 x 2 grid is token 0
    w = regions.weights([[0, 0, 499, 499], [250, 0, 749, 499]], side=2)
    assert torch.allclose(w, torch.tensor([[1., 0, 0, 0], [.5, .5, 0, 0]]))
    assert torch.allclose(regions.weights([[3, 3, 3, 3]], side=4),
                          torch.tensor([[1.] + [0.] * 15]))


def test_region_features_add_at_the_name_tokens(tokenizer):
    regions = RegionFeatures(tokenizer, 1000)
    ids = tokenizer('<DET>circle <loc_0><loc_0><loc_499><loc_499></DET>',
                    add_special_tokens=False).input_ids
    (pos, _), = regions.items(ids)
    emb = torch.zeros(len(ids), 3)
    image = torch.arange(12.).reshape(4, 3).requires_grad_()
    out = regions.add(emb, ids, image)
    assert torch.equal(out[pos], image[0].detach())
    assert out.sum() == image[0].sum()  # nowhere else
    out.sum().backward()  # the feature trains what made the tokens
    assert torch.equal(image.grad[:, 0], torch.tensor([1., 0, 0, 0]))
    assert torch.equal(regions.add(emb, ids, image, limit=pos), emb)
    half = regions.add(emb, ids, image.detach(), transform=lambda f: f * .5)
    assert torch.equal(half[pos], image[0].detach() / 2)
    with pytest.raises(ValueError, match='square grid'):
        regions.add(emb, ids, torch.zeros(5, 3))


def test_region_span_item_adds_at_the_name_and_its_locs(tokenizer):
    """``region_span='item'``: the region at the name and at its four
    ``<loc_i>`` tokens, nowhere else."""
    regions = RegionFeatures(tokenizer, 1000)
    ids = tokenizer('<DET>circle <loc_0><loc_0><loc_499><loc_499>; square '
                    '<loc_500><loc_0><loc_999><loc_499></DET>',
                    add_special_tokens=False).input_ids
    emb = torch.zeros(len(ids), 3)
    image = torch.arange(1., 13.).reshape(4, 3)
    out = regions.add(emb, ids, image, span='item')
    for (name, _, end), token in zip(regions.scan(ids), (0, 1)):
        for p in [name, *range(end - 4, end)]:
            assert torch.equal(out[p], image[token])
    assert int((out.abs().sum(1) > 0).sum()) == 10
    # the name-only default: two rows
    assert int((regions.add(emb, ids, image).abs().sum(1) > 0).sum()) == 2


def test_region_span_mention_adds_at_the_question_words(tokenizer):
    """``region_span='mention'``: the region at the block's name and at the
    same name later in the prompt (the mean of the items of that name),
    not past ``limit`` and not at other words."""
    regions = RegionFeatures(tokenizer, 1000)
    block = ('<DET> circle <loc_0><loc_0><loc_499><loc_499>; square '
             '<loc_500><loc_0><loc_999><loc_499>; circle '
             '<loc_0><loc_500><loc_499><loc_999></DET>')
    ids = tokenizer(block + '\nWhat color is the square? Is there a '
                    'circle? triangle', add_special_tokens=False).input_ids
    square = tokenizer(' square', add_special_tokens=False).input_ids
    circle = tokenizer(' circle', add_special_tokens=False).input_ids
    assert len(square) == len(circle) == 1
    close = ids.index(regions.det_close)
    at_square = ids.index(square[0], close)
    at_circle = ids.index(circle[0], close)
    emb = torch.zeros(len(ids), 3)
    image = torch.arange(1., 13.).reshape(4, 3)
    out = regions.add(emb, ids, image, span='mention')
    assert torch.equal(out[at_square], image[1])
    assert torch.equal(out[at_circle], (image[0] + image[2]) / 2)
    # the block's three names and the two mentions: nothing else
    assert int((out.abs().sum(1) > 0).sum()) == 5
    limited = regions.add(emb, ids, image, span='mention',
                          limit=at_circle)
    assert limited[at_circle].abs().sum() == 0
    assert torch.equal(limited[at_square], image[1])


def test_pooled_regions_are_reused_within_a_call(tokenizer):
    regions = RegionFeatures(tokenizer, 1000)
    image = torch.arange(1., 13.).reshape(4, 3).requires_grad_()
    boxes = [[0, 0, 499, 499], [500, 0, 999, 499]]
    assert regions.pool(boxes, image) is not regions.pool(boxes, image)
    with regions.reuse_pooled():
        a = regions.pool(boxes, image)
        assert regions.pool(boxes, image) is a
        assert regions.pool(boxes[:1], image) is not a
        # the same rows read detached are another feature (no gradient)
        assert not regions.pool(boxes, image.detach()).requires_grad
        assert regions.pool(boxes, image * 1) is not a  # other rows
    assert regions.pool(boxes, image) is not a
    torch.testing.assert_close(a, regions.pool(boxes, image))


def test_region_span_is_checked(tiny_ckpt):
    from llava_detseg.models.language import LlavaLanguageBranch
    for features, span in ((False, 'item'), ('token', 'item'),
                           ('norm', 'box'), ('token', 'mention')):
        with pytest.raises(ValueError, match='language.region_span'):
            LlavaLanguageBranch(tiny_ckpt['llava'],
                                special_tokens=dict(num_bins=1000),
                                region_features=features, region_span=span)


def test_region_tokens_are_inserted_after_the_boxes(tokenizer):
    """``'token'`` mode: a row after each prompt box, names and locs kept,
    labels ignored there."""
    from llava_detseg.models.language.region_features import \
        REGION_PLACEHOLDER
    regions = RegionFeatures(tokenizer, 1000)
    ids = tokenizer('<DET>circle <loc_0><loc_0><loc_499><loc_499>; square '
                    '<loc_500><loc_0><loc_999><loc_499></DET> Q <DET>triangle '
                    '<loc_9><loc_9><loc_20><loc_20></DET>',
                    add_special_tokens=False).input_ids
    emb = torch.randn(len(ids), 3)
    image = torch.arange(12.).reshape(4, 3).requires_grad_()
    labels = list(range(len(ids)))
    limit = len(ids) - ids[::-1].index(regions.det_open) - 1
    out, new_ids, new_labels = regions.insert(emb, ids, labels, image, limit)
    ends = [end for _, _, end in regions.scan(ids, limit)]
    assert len(ends) == 2 and out.shape == (len(ids) + 2, 3)
    assert [i for i, t in enumerate(new_ids) if t == REGION_PLACEHOLDER] == \
        [ends[0], ends[1] + 1]
    # every other row is the token's own embedding, in order
    keep = [i for i, t in enumerate(new_ids) if t != REGION_PLACEHOLDER]
    assert torch.equal(out[keep], emb)
    assert [new_ids[i] for i in keep] == ids
    assert [new_labels[i] for i in keep] == labels
    assert new_labels[ends[0]] == new_labels[ends[1] + 1] == -100
    # the boxes' regions: token 0 (top left), token 1 (top right)
    assert torch.equal(out[ends[0]], image[0].detach())
    assert torch.equal(out[ends[1] + 1], image[1].detach())
    out.sum().backward()
    assert torch.equal(image.grad[:, 0], torch.tensor([1., 1, 0, 0]))
    # no box before the limit: unchanged
    out, same, none = regions.insert(emb, ids, None, image, limit=2)
    assert torch.equal(out, emb) and same == ids and none is None


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

    def spy(ids, image, limit=None, labels=None):
        out, lab = embed(ids, image, limit, labels)
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
