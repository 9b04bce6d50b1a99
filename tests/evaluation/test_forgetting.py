"""Forgetting per benchmark: known drops exactly, no 0.0 by accident."""
import pytest

from llava_detseg.evaluation.functional import (ForgettingError,
                                                forgetting_rate,
                                                forgetting_table)

CURRENT = {'vqa/accuracy': 0.3, 'vqa/num_questions': 10,
           'gqa/accuracy': 0.5, 'pope/f1': 0.6, 'pope/accuracy': 0.7,
           'mme/perception': 900.0, 'mme/cognition': 200.0,
           'conv/perplexity': 12.0, 'coco/bbox_mAP': 0.2}
REFERENCE = {'vqa/accuracy': 0.4, 'gqa/accuracy': 0.5, 'pope/f1': 0.8,
             'mme/perception': 1000.0, 'mme/cognition': 160.0,
             'conv/perplexity': 10.0, 'coco/bbox_mAP': 0.1}


def test_known_drops_are_reported_exactly():
    rows = {r['key']: r for r in forgetting_table(CURRENT, REFERENCE)}
    assert set(rows) == {'vqa/accuracy', 'gqa/accuracy', 'pope/f1',
                         'mme/perception', 'mme/cognition',
                         'conv/perplexity'}  # heads are not benchmarks
    assert rows['vqa/accuracy']['drop'] == pytest.approx(0.25)
    assert rows['vqa/accuracy']['change'] == pytest.approx(-0.1)
    assert rows['gqa/accuracy']['drop'] == 0.0
    assert rows['pope/f1']['drop'] == pytest.approx(0.25)
    assert rows['mme/cognition']['drop'] == pytest.approx(-0.25)  # better
    # lower is better: perplexity up 20 % is a 20 % drop
    assert rows['conv/perplexity']['drop'] == pytest.approx(0.2)
    flat = forgetting_rate(CURRENT, REFERENCE)
    assert flat['vqa/forgetting_rate'] == pytest.approx(0.25)
    assert flat['vqa/accuracy_reference'] == 0.4
    assert flat['mme/perception_forgetting_rate'] == pytest.approx(0.1)
    assert flat['conv/forgetting_rate'] == pytest.approx(0.2)


def test_zero_reference_is_an_error_naming_the_benchmark():
    with pytest.raises(ForgettingError, match='reference scores 0 on '
                       '"gqa/accuracy".*"gqa"'):
        forgetting_rate({'gqa/accuracy': 0.2}, {'gqa/accuracy': 0.0})


def test_empty_benchmark_is_an_error():
    with pytest.raises(ForgettingError, match='"vqa" scored no question'):
        forgetting_rate({'vqa/accuracy': 0.3},
                        {'vqa/accuracy': 0.0, 'vqa/num_questions': 0})
    with pytest.raises(ForgettingError, match='no VQA benchmark score'):
        forgetting_rate({'coco/bbox_mAP': 0.3}, {'coco/bbox_mAP': 0.2})


def test_one_sided_scores_are_shown_not_compared():
    rows = forgetting_table({'vqa/accuracy': 0.3, 'gqa/accuracy': 0.2},
                            {'vqa/accuracy': 0.6})
    gqa = [r for r in rows if r['key'] == 'gqa/accuracy'][0]
    assert gqa['drop'] is None and gqa['reference'] is None
    assert 'gqa/forgetting_rate' not in forgetting_rate(
        {'vqa/accuracy': 0.3, 'gqa/accuracy': 0.2}, {'vqa/accuracy': 0.6})
    with pytest.raises(ForgettingError, match='no benchmark was scored in '
                       'both'):
        forgetting_rate({'gqa/accuracy': 0.3}, {'vqa/accuracy': 0.6})
