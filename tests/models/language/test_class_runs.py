"""Class runs and switches: how DetSegLogitsProcessor chooses the class of
each copied item and where a block ends (text_cfg.switch_prob)."""
import numpy as np
import pytest
import torch

from llava_detseg.models.language.constrained_decoding import (
    DetSegConstraint, DetSegLogitsProcessor, context_items, terminate_items,
    tidy_answer)
from llava_detseg.structures import DetSegTextCodec

CLASSES = ('circle', 'square', 'triangle')
CODEC = dict(max_boxes=20, max_vertices=16, min_region_area=16)


@pytest.fixture
def tokenizer(checkpoint_tokenizer):
    """Both tiny checkpoints' tokenizers (conftest's checkpoint_tokenizer)."""
    return checkpoint_tokenizer


def _decode_with(tokenizer, processor, prefer, budget: int = 64) -> str:
    """Greedy decoding of one row through ``processor`` with scores that
    give the class names the probabilities ``prefer`` (name -> p; ``'end'``:
    the closing tag, default never) wherever a class name starts, and are
    flat elsewhere (so the constraint decides)."""
    n = len(tokenizer)
    starts = {}
    for name in CLASSES:
        for text in (f'<DET>{name}', f';{" "}{name}'):
            starts[tokenizer(text, add_special_tokens=False).input_ids[1]] = \
                name
    sep = tokenizer(';', add_special_tokens=False).input_ids[0]
    close = tokenizer.convert_tokens_to_ids('</DET>')
    opener = tokenizer.convert_tokens_to_ids('<DET>')
    ids = []
    while len(ids) < budget:
        scores = torch.zeros(1, n)
        for tok, name in starts.items():
            scores[0, tok] = float(np.log(prefer.get(name, 1e-6)))
        scores[0, close] = float(np.log(prefer.get('end', 1e-9)))
        scores[0, sep] = 5.0
        scores[0, opener] = 10.0  # opens the block at once
        scores[0, tokenizer.eos_token_id] = 8.0  # ends when allowed
        out = processor(torch.tensor([ids], dtype=torch.long), scores)
        token = int(out[0].argmax())
        if token == tokenizer.eos_token_id:
            break
        ids.append(token)
    return tidy_answer(tokenizer.decode(ids, skip_special_tokens=True))


def _circle_square_circle(tokenizer):
    """A ``'context'`` constraint, a context of a circle, a square and a
    circle, and the context's three item texts in that order."""
    codec = DetSegTextCodec(CLASSES, **CODEC)
    constraint = DetSegConstraint(tokenizer, codec, 'context')
    context = codec.det_block(codec.det_items(
        np.array([[10, 10, 50, 40], [60, 20, 90, 70], [5, 5, 9, 9]]),
        np.array([0, 1, 0]), (100, 100)))
    return constraint, context, context_items(context)['det']


def test_class_runs_and_switches(tokenizer):
    """With switch_prob, each class is copied as one run; at a switch the
    model wants the classes with items left that it gives at least
    switch_prob among those classes and the closing tag, and more than the
    closing tag, and of these the context's first is written (the answer
    keeps the context's order); the mass on a class with nothing left (the
    run habit: after a circle, circle again) does not close the block."""
    constraint, context, (a, b, c) = _circle_square_circle(tokenizer)

    def run(prefer, switch_prob=0.1):
        proc = constraint.processor([context], 64, switch_prob)
        return _decode_with(tokenizer, proc, prefer)

    # sure of the circles and of the end: both circles, then the block
    # ends, tidily ("only the circles")
    assert run(dict(circle=0.9, square=0.02, triangle=0.01, end=0.07)) == \
        f'<DET>{a}; {c}</DET>'
    # "circle" again after the run, but sure it is not the end: the square
    # (0.02 of all, 2/3 of what is left to choose)
    assert run(dict(circle=0.97, square=0.02, triangle=0.01, end=0.01)) == \
        f'<DET>{a}; {c}; {b}</DET>'
    # the square below switch_prob among the choices left: the end
    assert run(dict(circle=0.9, square=0.01, triangle=0.01, end=0.08)) == \
        f'<DET>{a}; {c}</DET>'
    # prefers the square but wants the circles too: the context's order
    assert run(dict(circle=0.3, square=0.65, triangle=0.05)) == \
        f'<DET>{a}; {c}; {b}</DET>'
    # wants the square only (the circles below switch_prob, then no more
    # than the closing tag): the square alone
    assert run(dict(circle=0.05, square=0.9, end=0.05)) == f'<DET>{b}</DET>'
    # wants only triangles, which the context does not have, and the end
    # more than anything the context has: empty block
    assert run(dict(circle=0.01, square=0.01, triangle=0.9, end=0.08)) == \
        '<DET></DET>'
    # without the policy the constraint alone goes on with what is left
    assert run(dict(circle=0.9, square=0.02, triangle=0.01, end=0.07),
               None) == f'<DET>{a}; {c}; {b}</DET>'
    for bad in (1.5, -0.1, dict(det=0.2), True, '0.2'):
        with pytest.raises(ValueError, match='switch_prob'):
            DetSegLogitsProcessor(constraint, [context], 64, switch_prob=bad)


def test_class_runs_are_copied_whole(tokenizer):
    """Inside a class run the block does not close, however likely the
    model finds the closing tag, right after the separator and right after
    the item alike; without switch_prob greedy decoding decides."""
    constraint, context, (a, _, _) = _circle_square_circle(tokenizer)
    circle = tokenizer('; circle', add_special_tokens=False).input_ids[1]
    sep = tokenizer(';', add_special_tokens=False).input_ids[0]
    close = tokenizer.convert_tokens_to_ids('</DET>')

    def allowed(prefix, go, switch=0.1, p_close=0.9):
        ids = tokenizer(prefix, add_special_tokens=False).input_ids
        proc = constraint.processor([context], 64, switch)
        scores = torch.full((1, len(tokenizer)), -30.0)
        scores[0, go] = 0.0
        scores[0, close] = float(np.log(p_close / (1 - p_close)))
        out = proc(torch.tensor([ids], dtype=torch.long), scores)
        return set(torch.isfinite(out[0]).nonzero().flatten().tolist())

    for prefix, go in ((f'<DET>{a};', circle), (f'<DET>{a}', sep)):
        assert allowed(prefix, go) == {go}
    # runs belong to switch_prob: off without it
    assert allowed(f'<DET>{a}', sep, switch=None) == {sep, close}


def test_grammar_level_runs_fit_every_budget(tokenizer):
    """At the grammar level with switch_prob (the generative default) a
    model that always wants another item still ends every answer with a
    whole item and the closing tag, whatever the budget: a separator the
    budget had room for does not lead into a class name it cannot finish
    (multi-token names, and SentencePiece's longer ones, included)."""
    codec = DetSegTextCodec(CLASSES, **CODEC)
    constraint = DetSegConstraint(tokenizer, codec, 'grammar')
    items = set()
    for budget in range(8, 60):
        proc = constraint.processor([None], budget, 0.1)
        text = _decode_with(tokenizer, proc, dict(triangle=0.9, circle=0.1),
                            budget)
        parsed = codec.decode(text, (100, 100))
        assert parsed.ok, (budget, text, parsed.failures)
        assert text.startswith('<DET>') and text.endswith('</DET>'), text
        items.add(len(parsed.bboxes))
    # the answers grow with the budget: the filter did not refuse all items
    assert max(items) >= 4 and len(items) >= 4, items


def test_tidy_answer():
    text = 'Answer: 2 <DET>a <loc_1>; b <loc_2></DET> <SEG></SEG>'
    assert terminate_items(text) == \
        'Answer: 2 <DET>a <loc_1>; b <loc_2>;</DET> <SEG></SEG>'
    assert tidy_answer(terminate_items(text)) == text
    assert tidy_answer('Answer: 1 <DET>circle <loc_1>;</DET> <SEG>a; </SEG>') \
        == 'Answer: 1 <DET>circle <loc_1></DET> <SEG>a</SEG>'
    assert tidy_answer('Answer: <DET>a; b</DET>') == 'Answer: <DET>a; b</DET>'
