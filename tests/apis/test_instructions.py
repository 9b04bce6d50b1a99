"""What a user's instruction asks for."""
import pytest

from llava_detseg.apis import parse_instruction

CLASSES = ('circle', 'square', 'triangle')
SEG = ('background', 'circle', 'square', 'triangle')


def parse(text, **kw):
    return parse_instruction(text, CLASSES, SEG, 0, **kw)


def test_compound_asks_both_blocks_with_their_classes():
    req = parse('Detect the circles and segment the triangles.').request
    assert (req.det, req.seg, req.kind) == ([0], [3], 'compound')


def test_clause_without_verb_takes_the_previous_one():
    req = parse('Find the circles, the squares and segment everything').request
    assert req.det == [0, 1]
    assert req.seg == [1, 2, 3]


def test_all_objects_and_no_class_mean_every_class():
    assert parse('Detect all objects.').request.det == [0, 1, 2]
    assert parse('Segment the image.').request.seg == [1, 2, 3]


def test_count_is_a_det_block_only_for_text_models():
    req = parse('How many squares are there?').request
    assert (req.det, req.kind) == ([1], 'count')
    req = parse('How many squares are there?', counts=False).request
    assert (req.det, req.seg, req.kind) == (None, None, 'vqa')


def test_question_is_vqa():
    req = parse('What color is the square?').request
    assert not req.wants_blocks and req.kind == 'vqa'
    assert req.prompt() == '<image>\nWhat color is the square?'


def test_format_tokens_and_image_are_removed_and_counted():
    parsed = parse('<image> Detect <DET>circle <loc_5><loc_9></DET> now')
    assert '<' not in parsed.request.question
    assert parsed.problems['format_tokens_removed'] == 5
    assert parsed.request.det == [0]


def test_long_instruction_is_cut_and_counted():
    parsed = parse('Detect the circles. ' + 'x' * 10000)
    assert len(parsed.request.question) == 2000
    assert parsed.problems['instruction_truncated'] > 8000


@pytest.mark.parametrize('text', ['', '   ', '<DET></DET><image>'])
def test_empty_instruction_raises_a_clear_error(text):
    with pytest.raises(ValueError, match='empty'):
        parse(text)


def test_history_prompt_has_no_second_image():
    req = parse('Segment the squares.').request
    req.history = [dict(value='<image>\nq', **{'from': 'human'}),
                   dict(value='a', **{'from': 'gpt'})]
    assert '<image>' not in req.prompt('<SEG></SEG>')
    assert req.prompt('<SEG></SEG>') == '<SEG></SEG>\nSegment the squares.'
