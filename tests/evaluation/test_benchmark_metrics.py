"""VQAv2 accuracy against the official algorithm; POPE, ScienceQA, GQA and
MME on hand-computed cases; metrics that scored nothing say so."""
import re

import numpy as np
import pytest
from mmengine.evaluator import Evaluator

from llava_detseg.evaluation import (MMEMetric, POPEMetric, ScienceQAMetric,
                                     VQAMetric, pope_yes_no, scienceqa_letter)
from llava_detseg.evaluation.functional import vqa_accuracy
from llava_detseg.evaluation.functional.vqa_normalize import (CONTRACTIONS,
                                                              MANUAL_MAP)
from test_vqa_normalize import official_accuracy as official_loop


# ------------------------------------------- the official VQAv2 evaluation
# A transcription of GT-Vision-Lab/VQA vqaEval.py (processPunctuation,
# processDigitArticle and the per-question loop of evaluate), kept apart from
# the project's code on purpose; the prediction is always normalised, as the
# evaluation server's answer processor does. The tables are data and
# shared.
PUNCT = [';', r'/', '[', ']', '"', '{', '}', '(', ')', '=', '+', '\\', '_',
         '-', '>', '<', '@', '`', ',', '?', '!']
PERIOD_STRIP = re.compile(r'(?!<=\d)(\.)(?!\d)')
COMMA_STRIP = re.compile(r'(\d)(\,)(\d)')


def official_punct(in_text):
    out_text = in_text
    for p in PUNCT:
        if (p + ' ' in in_text or ' ' + p in in_text) or (
                re.search(COMMA_STRIP, in_text) is not None):
            out_text = out_text.replace(p, '')
        else:
            out_text = out_text.replace(p, ' ')
    return PERIOD_STRIP.sub('', out_text, re.UNICODE)


def official_digit_article(in_text):
    out = []
    for word in in_text.lower().split():
        word = MANUAL_MAP.get(word, word)
        if word not in ['a', 'an', 'the']:
            out.append(word)
    for i, word in enumerate(out):
        if word in CONTRACTIONS:
            out[i] = CONTRACTIONS[word]
    return ' '.join(out)


def official_accuracy(res_ans, gt_answers):
    """vqaEval.py's evaluate for one question: the normalisation, then the
    leave-one-out loop (``test_vqa_normalize.official_accuracy``)."""
    res_ans = res_ans.replace('\n', ' ').replace('\t', ' ').strip()
    res_ans = official_digit_article(official_punct(res_ans))
    if len(set(gt_answers)) > 1:
        gt_answers = [official_digit_article(official_punct(a))
                      for a in gt_answers]
    return official_loop(res_ans, gt_answers)


# already-normalised annotations, as VQAv2's are
VOCAB = ['yes', 'no', '2', '3', '10', 'red', 'blue', 'dog', 'hot dog',
         'tennis racket', "don't know", '3.5']
RAW = {'yes': ['Yes', 'yes.', 'YES!'], 'no': ['No', 'no,'],
       '2': ['two', '2', 'Two.'], '3': ['three', '3'], '10': ['ten', '10'],
       'red': ['Red', 'a red', 'the red'], 'blue': ['Blue.', 'blue'],
       'dog': ['a dog', 'Dog', 'the dog!'], 'hot dog': ['hot-dog',
                                                        'Hot dog', 'hot dog'],
       'tennis racket': ['tennis racket', 'a tennis racket'],
       "don't know": ['dont know', "don't know"], '3.5': ['3.5']}


def test_vqa_accuracy_equals_the_official_algorithm_on_random_cases():
    rng = np.random.default_rng(0)
    values = []
    for _ in range(500):
        pool = rng.choice(VOCAB, size=rng.integers(1, 4), replace=False)
        gts = list(rng.choice(pool, size=10))
        if rng.random() < 0.2:
            gts = [gts[0]] * 10  # annotators agree: no normalisation at all
        target = str(rng.choice(VOCAB))
        pred = str(rng.choice(RAW[target]))
        got, want = vqa_accuracy(pred, gts), official_accuracy(pred, gts)
        assert got == pytest.approx(want, abs=1e-12), (pred, gts)
        values.append(got)
    assert {0.0, 1.0} <= set(np.round(values, 6))
    assert any(0 < v < 1 for v in values)


@pytest.mark.parametrize('pred,gts,want', [
    ('red', ['red'] * 3 + ['blue'] * 7, 0.9),  # 3 matches: 7 x 1 + 3 x 2/3
    ('red', ['red'] + ['blue'] * 9, 0.3),
    ('Two', ['2'] * 2 + ['3'] * 8, 0.6),
    ('blue', ['blue'] * 4 + ['red'] * 6, 1.0),
    ('green', ['blue'] * 10, 0.0),
])
def test_vqa_accuracy_hand_made(pred, gts, want):
    assert vqa_accuracy(pred, gts) == pytest.approx(want)
    assert official_accuracy(pred, gts) == pytest.approx(want)


def run(metric, samples):
    ev = Evaluator(metric)
    ev.process(samples)
    return ev.evaluate(len(samples))


def qsample(preds, gts, metas=None, qids=None):
    n = len(preds)
    return dict(pred_answers=preds, gt_answers=gts,
                question_meta=metas or [{}] * n,
                question_ids=qids or list(range(n)), img_path='x.jpg')


def test_gqa_is_exact_match_after_normalisation():
    m = run(VQAMetric(prefix='gqa', answer_types=False), [
        qsample(['Yes.', 'the square', 'blue', 'left'],
                ['yes', 'square', 'red', 'left'])
    ])
    assert m['gqa/accuracy'] == pytest.approx(3 / 4)
    assert m['gqa/num_questions'] == 4


def test_vqa_metric_uses_the_annotated_answer_type():
    m = run(VQAMetric(prefix='vizwiz'), [
        qsample(['unanswerable', 'red'], [['unanswerable'] * 10, ['red'] * 10],
                [dict(answer_type='unanswerable'), dict(answer_type='other')])
    ])
    assert m['vizwiz/accuracy_unanswerable'] == 1.0
    assert m['vizwiz/accuracy_other'] == 1.0


def test_scienceqa_reads_the_letter():
    assert scienceqa_letter('B', 3) == 'B'
    assert scienceqa_letter('B. a square', 3) == 'B'
    assert scienceqa_letter('The answer is C.', 3) == 'C'
    assert scienceqa_letter('D', 3) is None  # out of range
    assert scienceqa_letter('I think so', 3) is None
    meta = [dict(choices=['a', 'b', 'c'], subject='natural science'),
            dict(choices=['a', 'b'], subject='natural science'),
            dict(choices=['a', 'b', 'c', 'd'], subject='social science'),
            dict(choices=['a', 'b'], subject='social science')]
    m = run(ScienceQAMetric(), [
        qsample(['A', 'The answer is B.', 'maybe', 'B. b'],
                ['A', 'A', 'C', 'B'], meta)
    ])
    assert m['scienceqa/accuracy'] == pytest.approx(2 / 4)
    assert m['scienceqa/accuracy_natural_science'] == pytest.approx(1 / 2)
    assert m['scienceqa/accuracy_social_science'] == pytest.approx(1 / 2)
    assert m['scienceqa/parse_failure_rate'] == pytest.approx(1 / 4)


def test_pope_per_split_hand_computed():
    assert pope_yes_no('No, there is not.') == 'no'
    assert pope_yes_no('Yes. No doubt.') == 'yes'  # first sentence only
    assert pope_yes_no('There is not a dog') == 'no'
    preds = ['yes', 'yes', 'no', 'yes', 'no', 'No.', 'yes', 'no']
    gts = ['yes', 'no', 'yes', 'yes', 'no', 'no', 'yes', 'no']
    splits = ['random'] * 6 + ['adversarial'] * 2
    m = run(POPEMetric(), [
        qsample(preds, gts, [dict(split=s) for s in splits])
    ])
    # random: TP 2 (q0, q3), FP 1 (q1), FN 1 (q2), TN 2 (q4, q5)
    assert m['pope/random/accuracy'] == pytest.approx(4 / 6)
    assert m['pope/random/precision'] == pytest.approx(2 / 3)
    assert m['pope/random/recall'] == pytest.approx(2 / 3)
    assert m['pope/random/f1'] == pytest.approx(2 / 3)
    assert m['pope/random/yes_ratio'] == pytest.approx(3 / 6)
    assert m['pope/adversarial/f1'] == 1.0
    assert m['pope/f1'] == pytest.approx((2 / 3 + 1) / 2)
    assert m['pope/accuracy'] == pytest.approx((4 / 6 + 1) / 2)


def test_mme_acc_plus_and_sums():
    preds = ['Yes', 'No', 'yes', 'yes',  # existence: img a both right
             'No', 'no']  # code_reasoning: img c one right
    gts = ['yes', 'no', 'yes', 'no', 'yes', 'no']
    meta = [dict(subtask='existence', image='a')] * 2 + [
        dict(subtask='existence', image='b')] * 2 + [
        dict(subtask='code_reasoning', image='c')] * 2
    m = run(MMEMetric(), [qsample(preds, gts, meta)])
    assert m['mme/existence/acc'] == pytest.approx(3 / 4)
    assert m['mme/existence/acc_plus'] == pytest.approx(1 / 2)
    assert m['mme/existence/score'] == pytest.approx(125.0)
    assert m['mme/code_reasoning/score'] == pytest.approx(50.0)
    assert m['mme/perception'] == pytest.approx(125.0)
    assert m['mme/cognition'] == pytest.approx(50.0)


@pytest.mark.parametrize('metric', [
    VQAMetric(prefix='vqav2'), ScienceQAMetric(), POPEMetric(), MMEMetric()
])
def test_a_metric_that_scored_nothing_reports_no_score(metric):
    # samples of other tasks only: no accuracy key, never a 0.0
    out = run(metric, [dict(img_path='a.png'), dict(img_path='b.png')])
    assert not any(k.endswith(('accuracy', 'f1', 'perception'))
                   for k in out), out
