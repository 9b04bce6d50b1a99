"""Tests of the VQAv2 answer normalisation and accuracy."""
import pytest

from llava_detseg.evaluation import normalize_answer, vqa_accuracy


def official_accuracy(pred_norm: str, gt_answers: list) -> float:
    """The official leave-one-out loop, written as in vqaEval.py.

    Answers are dicts (as in the annotation file) so that ``!=`` leaves out
    exactly one datum even when several annotators gave the same answer.
    """
    gts = [{'answer': a, 'answer_id': i} for i, a in enumerate(gt_answers)]
    gt_acc = []
    for gt_datum in gts:
        others = [item for item in gts if item != gt_datum]
        matching = [item for item in others if item['answer'] == pred_norm]
        gt_acc.append(min(1, float(len(matching)) / 3))
    return float(sum(gt_acc)) / len(gt_acc)


@pytest.mark.parametrize('raw, expected', [
    ('two', '2'),
    ('Two.', '2'),
    ('none', '0'),
    ('ten', '10'),
    ('The red one', 'red 1'),
    ('an apple', 'apple'),
    ('Yes!', 'yes'),
    ('  YES  ', 'yes'),
    ('what is it?', 'what is it'),
    # A mark touching a space is deleted, otherwise replaced by a space.
    ('red,blue', 'red blue'),
    ('red, blue', 'red blue'),
    ('left-handed', 'left handed'),
    # A comma between digits deletes every mark of the text.
    ('10,000', '10000'),
    ('1,000-2,000', '10002000'),
    # Periods go unless a digit follows.
    ('a.m.', 'am'),
    ('It is 5 p.m.', 'it is 5 pm'),
    ('3.5', '3.5'),
    ('.5', '.5'),
    # Contractions are restored after lowercasing.
    ('dont', "don't"),
    ('Dont', "don't"),
    ('isnt', "isn't"),
    ("don't", "don't"),
    # Whitespace: newlines, tabs and runs of spaces collapse.
    ('big\n\tred   ball', 'big red ball'),
    # Markers of raw generations.
    ('Answer: Yes</s>', 'yes'),
    ('answer:two', '2'),
    ('ANSWER : no </s>', 'no'),
    (' Answer:\tThe\n cat </s> ', 'cat'),
    ('', ''),
])
def test_normalize_answer(raw, expected):
    assert normalize_answer(raw) == expected


def test_normalize_answer_keeps_inner_answer_word():
    # Only a leading prefix is stripped.
    assert normalize_answer('the answer: yes') == 'answer: yes'


def test_normalize_answer_is_idempotent_on_normalised_text():
    for text in ['2', 'red 1', "don't", '10000', 'am', '3.5']:
        assert normalize_answer(normalize_answer(text)) == \
            normalize_answer(text)


@pytest.mark.parametrize('pred, gt', [
    ('two', '2'),
    ('Two.', '2'),
    ('Yes!', 'yes'),
    ('yes', 'Yes!'),
    ('Answer: The dog</s>', 'dog'),
    ('10,000', '10000'),
])
def test_single_gt_match(pred, gt):
    assert vqa_accuracy(pred, gt) == 1.0
    assert vqa_accuracy(pred, [gt]) == 1.0


@pytest.mark.parametrize('pred, gt', [
    ('yes', 'no'),
    ('2', '3'),
    ('red', 'red 1'),
])
def test_single_gt_mismatch(pred, gt):
    assert vqa_accuracy(pred, gt) == 0.0


@pytest.mark.parametrize('num_match, expected', [
    (0, 0.0),
    (1, 0.3),
    (2, 0.6),
    (3, 0.9),
    (4, 1.0),
    (10, 1.0),
])
def test_multi_gt_official_formula(num_match, expected):
    gts = ['2'] * num_match + ['3'] * (10 - num_match)
    acc = vqa_accuracy('two', gts)
    # Bit-exact against the official loop, and the known closed form.
    assert acc == official_accuracy('2', gts)
    assert acc == pytest.approx(expected)


def test_multi_gt_two_of_ten_exact_value():
    gts = ['2', '2', '3', '3', '3', '3', '3', '4', '4', '4']
    # Left out: the 2 matches see 1 other match (1/3), the 8 others see 2
    # (2/3): (2 * 1/3 + 8 * 2/3) / 10.
    expected = float(2 * (1 / 3) + 8 * (2 / 3)) / 10
    assert vqa_accuracy('Two.', gts) == pytest.approx(expected)
    assert vqa_accuracy('Two.', gts) == official_accuracy('2', gts)
    assert vqa_accuracy('Two.', gts) == pytest.approx(0.6)


def test_multi_gt_normalises_gt_answers():
    gts = ['Two', 'two.', '2', 'three']
    # 3 matches among 4 answers: the 3 matches see 2 others (2/3), the
    # mismatch sees 3 (1): (3 * 2/3 + 1) / 4.
    assert vqa_accuracy('2', gts) == pytest.approx((3 * (2 / 3) + 1) / 4)


def test_empty_gt_raises():
    with pytest.raises(ValueError, match='at least one'):
        vqa_accuracy('yes', [])
