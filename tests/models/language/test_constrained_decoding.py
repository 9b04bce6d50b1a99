"""Constrained decoding keeps answers in the <DET>/<SEG> format."""
import copy

import numpy as np
import pytest
import torch
from mmengine.registry import init_default_scope

from llava_detseg.datasets.transforms.text_instructions import \
    GenerateTextInstructions
from llava_detseg.models.language.constrained_decoding import (
    DetSegConstraint, context_items, terminate_items)
from llava_detseg.models.language.text_tasks import TextTaskIO
from llava_detseg.registry import DATASETS, MODELS
from llava_detseg.structures import DetSegTextCodec

CLASSES = ('circle', 'square', 'triangle')
CODEC = dict(max_boxes=20, max_vertices=16, min_region_area=16)


@pytest.fixture
def tokenizer(checkpoint_tokenizer):
    """Both tiny checkpoints' tokenizers (conftest's checkpoint_tokenizer)."""
    return checkpoint_tokenizer


def _sample(rng: np.random.Generator, h: int = 96, w: int = 128) -> dict:
    """Random boxes and a semantic map painted from them."""
    n = int(rng.integers(1, 6))
    xy = rng.uniform(0, [w - 20, h - 20], size=(n, 2))
    wh = rng.uniform(8, 20, size=(n, 2))
    boxes = np.concatenate([xy, xy + wh], 1)
    labels = rng.integers(0, len(CLASSES), n)
    sem = np.zeros((h, w), np.uint8)
    for (x1, y1, x2, y2), c in zip(boxes.astype(int), labels):
        sem[y1:y2, x1:x2] = c + 1
    return dict(img_shape=(h, w), ori_shape=(h, w), gt_bboxes=boxes,
                gt_bboxes_labels=labels, gt_seg_map=sem)


def _items(seed: int, n: int = 30) -> list:
    rng = np.random.default_rng(seed)
    np.random.seed(seed)
    make = GenerateTextInstructions(CLASSES, num_per_image=4, codec=CODEC)
    out = []
    for _ in range(n):
        out += make.transform(_sample(rng))['text_conversations']
    return out


def _ids(tokenizer, answer: str) -> list:
    # as the conversation tokenizer writes a target: ' ' + answer, then </s>
    ids = tokenizer(' ' + answer, add_special_tokens=False).input_ids
    return ids + [tokenizer.eos_token_id]


@pytest.mark.parametrize('level', ['context', 'context_any', 'grammar'])
def test_every_training_answer_is_allowed(tokenizer, level):
    """The constraint never forbids an answer the model is trained on
    (at the 'context' level: those that copy each class in context order,
    i.e. all but the one-instance 'where' answers)."""
    constraint = DetSegConstraint(tokenizer, DetSegTextCodec(CLASSES, **CODEC),
                                  level)
    items = _items(0)
    kinds = {i['kind'] for i in items}
    assert {'det_all', 'det_class', 'seg_all', 'seg_class', 'compound',
            'count', 'where'} <= kinds
    if level == 'context':
        assert any(not constraint.check(_ids(tokenizer, i['answer']),
                                        i['context'])
                   for i in items if i['kind'] == 'where')
        items = [i for i in items if i['kind'] != 'where']
    for item in items:
        ids = _ids(tokenizer, item['answer'])
        assert constraint.check(ids, item['context']), item['answer']
        # answers trained with terminate_items: the processor's parser
        # takes them, the plain constraint does not close after '; '
        ended = terminate_items(item['answer'])
        ids = _ids(tokenizer, ended)
        assert constraint.check(ids, item['context'], policy=True), ended
        if ended != item['answer']:
            assert not constraint.check(ids, item['context']), ended


def _loc(tokenizer, i: int) -> int:
    return tokenizer.convert_tokens_to_ids(f'<loc_{i}>')


def test_context_level_refuses_what_is_not_copied(tokenizer):
    codec = DetSegTextCodec(CLASSES, **CODEC)
    constraint = DetSegConstraint(tokenizer, codec, 'context')
    context = codec.det_block(codec.det_items(
        np.array([[10, 10, 50, 40], [60, 20, 90, 70]]), np.array([0, 1]),
        (100, 100)))
    items = context_items(context)['det']
    assert items == ['circle <loc_100><loc_100><loc_500><loc_400>',
                     'square <loc_600><loc_200><loc_900><loc_700>']
    good = f'Answer: <DET>{items[1]}; {items[0]}</DET>'
    assert constraint.check(_ids(tokenizer, good), context)
    bad = [
        # a coordinate changed
        'Answer: <DET>circle <loc_100><loc_100><loc_501><loc_400></DET>',
        # the same item twice
        f'Answer: <DET>{items[0]}; {items[0]}</DET>',
        # a class the item does not have
        'Answer: <DET>square <loc_100><loc_100><loc_500><loc_400></DET>',
        # a block the context does not offer
        f'Answer: <DET>{items[0]}</DET> <SEG></SEG>',
        # a loc outside any block
        'Answer: <loc_3>',
    ]
    for text in bad:
        assert not constraint.check(_ids(tokenizer, text), context), text
    # the answer cannot end before the block the context offers
    assert not constraint.check(_ids(tokenizer, 'Answer: 2'), context)


@pytest.mark.parametrize('level', ['context', 'context_any'])
def test_a_long_block_leaves_room_for_the_blocks_still_due(tokenizer, level):
    """A model that never wants to close its <DET> block still writes the
    <SEG> block the context holds before the budget ends."""
    codec = DetSegTextCodec(CLASSES, **CODEC)
    constraint = DetSegConstraint(tokenizer, codec, level)
    det = codec.det_block(
        [f'circle <loc_{i}><loc_{i}><loc_{i + 1}><loc_{i + 1}>'
         for i in range(0, 40, 2)])
    seg = codec.seg_block(['square <poly><loc_1><loc_1><loc_5><loc_1>'
                           '<loc_5><loc_5></poly>'])
    shun = {tokenizer.convert_tokens_to_ids(t)
            for t in ('</DET>', '</SEG>')} | {tokenizer.eos_token_id}
    for budget in range(20, 40):
        fn = constraint.build([f'{det} {seg}'], budget)
        ids = []
        while len(ids) < budget:
            allowed = [int(t) for t in fn(0, torch.tensor(ids))]
            # <DET> at once, then anything but a closing tag or the end
            token = constraint.vocab.open['det'] if not ids else next(
                (t for t in allowed if t not in shun), allowed[0])
            if token == tokenizer.eos_token_id:
                break
            ids.append(token)
        text = tokenizer.decode(ids, skip_special_tokens=True)
        assert '</DET>' in text and '<SEG>' in text and \
            text.endswith('</SEG>'), (budget, text)


def test_context_level_copies_each_class_in_order(tokenizer):
    codec = DetSegTextCodec(CLASSES, **CODEC)
    context = codec.det_block(codec.det_items(
        np.array([[10, 10, 50, 40], [60, 20, 90, 70], [5, 5, 9, 9]]),
        np.array([0, 1, 0]), (100, 100)))
    a, b, c = context_items(context)['det']  # circle, square, circle
    strict = DetSegConstraint(tokenizer, codec, 'context')
    loose = DetSegConstraint(tokenizer, codec, 'context_any')
    for text in (f'Answer: <DET>{a}; {c}</DET>',
                 f'Answer: <DET>{b}; {a}; {c}</DET>',
                 f'Answer: <DET>{a}; {b}; {c}</DET>'):
        ids = _ids(tokenizer, text)
        assert strict.check(ids, context) and loose.check(ids, context)
    # the second circle before the first: only 'context_any' allows it
    ids = _ids(tokenizer, f'Answer: <DET>{c}; {a}</DET>')
    assert not strict.check(ids, context) and loose.check(ids, context)
    ids = _ids(tokenizer, f'Answer: <DET>{c}</DET>')
    assert not strict.check(ids, context) and loose.check(ids, context)


def test_grammar_level(tokenizer):
    codec = DetSegTextCodec(CLASSES, **CODEC)
    constraint = DetSegConstraint(tokenizer, codec, 'grammar')
    ok = ('Answer: 1 <DET>triangle <loc_7><loc_8><loc_7><loc_9></DET> '
          '<SEG>square <poly><loc_1><loc_1><loc_5><loc_1><loc_5><loc_5>'
          '</poly></SEG>')
    assert constraint.check(_ids(tokenizer, ok))
    for text in [
            'Answer: <DET>dog <loc_1><loc_1><loc_2><loc_2></DET>',  # class
            'Answer: <DET>circle <loc_5><loc_1><loc_2><loc_2></DET>',  # x2<x1
            'Answer: <DET>circle <loc_1><loc_1><loc_2></DET>',  # 3 locs
            'Answer: <SEG>circle <poly><loc_1><loc_1><loc_5><loc_1>'
            '</poly></SEG>',  # 2 vertices
            'Answer: <SEG>circle <poly><loc_1></poly></SEG>',  # odd locs
            'Answer: <DET></DET> <DET></DET>',  # a block twice
    ]:
        assert not constraint.check(_ids(tokenizer, text)), text
    many = '; '.join(['circle <loc_1><loc_1><loc_2><loc_2>'] * 21)
    assert not constraint.check(_ids(tokenizer, f'Answer: <DET>{many}</DET>'))


def _val_batch(cfg, num: int = 2) -> dict:
    loader = cfg.val_dataloader
    pipeline = copy.deepcopy(loader.dataset.pipeline)
    pipeline.insert(-1, dict(type='GenerateTextInstructions', classes=CLASSES,
                             num_per_image=None, coords='ori_shape',
                             codec=CODEC))
    ds_cfg = copy.deepcopy(loader.dataset)
    ds_cfg.pipeline = pipeline
    dataset = DATASETS.build(ds_cfg)
    items = [dataset[i] for i in range(num)]
    return dict(inputs=[i['inputs'] for i in items],
                data_samples=[i['data_samples'] for i in items])


@pytest.mark.parametrize('mode,constrain', [('grounded', 'auto'),
                                            ('generative', 'auto')])
def test_untrained_model_writes_parsable_answers(cfg, mode, constrain):
    """Even a random language model answers in the format when constrained:
    every answer parses without a failure, holds the blocks it was asked for
    (grounded), and copies only context boxes (grounded)."""
    init_default_scope('llava_detseg')
    torch.manual_seed(0)
    cfg.model.language.special_tokens = dict()
    cfg.model.text_cfg = dict(classes=CLASSES, mode=mode, max_new_tokens=48,
                              context_score_thr=0.0, context_max_boxes=3,
                              codec=CODEC, constrain=constrain)
    model = MODELS.build(cfg.model)
    model.init_weights()
    model.eval()
    # the untrained heads' map may be all one class: give the loc rows
    # varied logits so that the random model picks varied tokens
    with torch.no_grad():
        model.language.llava.lm_head.special_delta.normal_(0, 1.0)
    data = model.data_preprocessor(_val_batch(cfg), training=False)
    out = model(**data, mode='predict')
    codec = model.text.codec
    answers = 0
    for sample in out:
        shape = sample.ori_shape[:2]
        for item, text, prompt in zip(sample.text_conversations,
                                      sample.pred_texts, sample.text_prompts):
            parsed = codec.decode(text, shape)
            assert parsed.ok, (text, parsed.failures)
            answers += 1
            if mode != 'grounded' or item['det'] is None:
                continue
            assert parsed.has_det == (item['det'] is not None), text
            assert parsed.has_seg == (item['seg'] is not None), text
            ctx = context_items(prompt)
            for piece in text.split('<DET>')[-1].split('</DET>')[0].split(
                    '; '):
                assert not piece or piece in ctx['det'], (piece, prompt)
    assert answers >= 4


def test_unknown_level_is_refused():
    with pytest.raises(ValueError, match='text_cfg.constrain'):
        TextTaskIO(CLASSES, constrain='telepathic')
    with pytest.raises(ValueError, match='generative mode has none'):
        TextTaskIO(CLASSES, mode='generative', constrain='context')
    with pytest.raises(ValueError, match='switch_prob'):
        TextTaskIO(CLASSES, switch_prob=-0.1)


@pytest.mark.parametrize('level', ['context', 'context_any', 'grammar'])
def test_random_walks_stay_in_the_format(tokenizer, level):
    """Sample answers token by token from random scores that shun closing
    tags and the end (the worst case: a model that never wants to stop):
    each one parses without a failure, fits the budget, and at the context
    level copies only context items, each at most once."""
    codec = DetSegTextCodec(CLASSES, **CODEC)
    constraint = DetSegConstraint(tokenizer, codec, level)
    items = [i for i in _items(1, n=12) if i['kind'] != 'where']
    contexts = [i['context'] for i in items]
    budget = 96
    fn = constraint.build(contexts, budget)
    rng = np.random.default_rng(0)
    shun = [tokenizer.convert_tokens_to_ids(t)
            for t in ('</DET>', '</SEG>', '</poly>')] + [tokenizer.eos_token_id]
    copied = 0
    for row, context in enumerate(contexts):
        ids = []
        while len(ids) < budget:
            allowed = fn(row, torch.tensor(ids, dtype=torch.long))
            scores = rng.normal(size=len(allowed))
            scores[np.isin(allowed, shun)] -= 3.0
            token = int(allowed[int(np.argmax(scores))])
            if token == tokenizer.eos_token_id:
                break
            ids.append(token)
        text = tokenizer.decode(ids, skip_special_tokens=True)
        parsed = codec.decode(text, (96, 128))
        assert parsed.ok, (text, parsed.failures)
        if level != 'grammar':
            ctx = context_items(context)
            for kind, tag in (('det', 'DET'), ('seg', 'SEG')):
                assert (f'<{tag}>' in text) == (kind in ctx), (text, context)
                if kind not in ctx:
                    continue
                body = text.split(f'<{tag}>')[1].split(f'</{tag}>')[0]
                pieces = [p for p in body.split('; ') if p]
                assert len(set(pieces)) == len(pieces), text
                assert set(pieces) <= set(ctx[kind]), (pieces, ctx[kind])
                copied += len(pieces)
    if level != 'grammar':
        # the walks did copy items, not only close (8 to 20 of them here:
        # a larger free vocabulary, as SentencePiece's, spends more of the
        # budget on free text)
        assert copied >= 5
