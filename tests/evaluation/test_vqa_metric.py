"""Tests of ``VQAMetric`` through MMEngine's evaluator."""
import json
import logging

import pytest
from mmengine.evaluator import Evaluator
from mmengine.registry import DefaultScope
from mmengine.structures import BaseDataElement

import llava_detseg.evaluation  # noqa: F401  (registers the metric)
from llava_detseg.evaluation import VQAMetric
from llava_detseg.evaluation.metrics import vqa_metric as vqa_metric_module
from llava_detseg.registry import METRICS

TEN_TWOS_OF_TWO = ['2', '2', '3', '3', '3', '3', '3', '4', '4', '4']


def vqa_samples() -> list:
    """Three VQA questions over two images and one detection-only sample."""
    return [
        dict(
            img_path='img_0.jpg',
            question_ids=['q0', 'q1'],
            questions=['Is there a dog?', 'How many cats?'],
            pred_answers=['Yes!', 'Answer: two</s>'],
            gt_answers=['yes', ['2']],
        ),
        # Detection-only: belongs to another metric.
        dict(img_path='img_1.jpg', pred_instances=dict(bboxes=[[0, 0, 1, 1]])),
        dict(
            img_path='img_2.jpg',
            question_ids=['q2'],
            questions=['How many dogs?'],
            pred_answers=['Two.'],
            gt_answers=[TEN_TWOS_OF_TWO],
        ),
        dict(
            img_path='img_3.jpg',
            question_ids=['q3'],
            questions=['What colour is the ball?'],
            pred_answers=['The red one'],
            gt_answers=['blue'],
        ),
    ]


def run_evaluator(evaluator: Evaluator, samples: list, size=None) -> dict:
    evaluator.process(data_samples=samples, data_batch=None)
    return evaluator.evaluate(len(samples) if size is None else size)


def test_registered_in_llava_detseg_scope():
    metric = METRICS.build(dict(type='VQAMetric', answer_types=False))
    assert isinstance(metric, VQAMetric)
    assert metric.answer_types is False
    assert metric.prefix == 'vqa'


def test_evaluator_end_to_end():
    with DefaultScope.overwrite_default_scope('llava_detseg'):
        evaluator = Evaluator([dict(type='VQAMetric')])
    metrics = run_evaluator(evaluator, vqa_samples())
    # q0 yes/no: 1; q1 number: 1; q2 number: 2 of 10 -> 0.6; q3 other: 0.
    expected_q2 = float(2 * (1 / 3) + 8 * (2 / 3)) / 10
    assert set(metrics) == {
        'vqa/accuracy', 'vqa/accuracy_yes/no', 'vqa/accuracy_number',
        'vqa/accuracy_other', 'vqa/num_questions'
    }
    assert metrics['vqa/num_questions'] == 4
    assert metrics['vqa/accuracy'] == pytest.approx(
        (1 + 1 + expected_q2 + 0) / 4)
    assert metrics['vqa/accuracy_yes/no'] == 1.0
    assert metrics['vqa/accuracy_number'] == pytest.approx(
        (1 + expected_q2) / 2)
    assert metrics['vqa/accuracy_other'] == 0.0


def test_scope_prefixed_type_and_custom_prefix():
    evaluator = Evaluator(
        [dict(type='llava_detseg.VQAMetric', prefix='textvqa')])
    metrics = run_evaluator(evaluator, vqa_samples())
    assert metrics['textvqa/num_questions'] == 4
    assert 'vqa/accuracy' not in metrics


def test_metric_instance_and_data_elements():
    # Evaluator turns data elements into dicts with ``to_dict()``.
    sample = BaseDataElement(
        metainfo=dict(img_path='img_0.jpg'),
        pred_answers=['no', 'zero'],
        gt_answers=['No.', '0'])
    metrics = run_evaluator(Evaluator(VQAMetric()), [sample])
    assert metrics == {
        'vqa/accuracy': 1.0,
        'vqa/accuracy_yes/no': 1.0,
        'vqa/accuracy_number': 1.0,
        'vqa/num_questions': 2,
    }


def test_only_present_answer_types_reported():
    samples = [dict(pred_answers=['red'], gt_answers=['Red.'])]
    metrics = run_evaluator(Evaluator(VQAMetric()), samples)
    assert metrics == {
        'vqa/accuracy': 1.0,
        'vqa/accuracy_other': 1.0,
        'vqa/num_questions': 1,
    }


def test_answer_types_off():
    metrics = run_evaluator(
        Evaluator(VQAMetric(answer_types=False)), vqa_samples())
    assert set(metrics) == {'vqa/accuracy', 'vqa/num_questions'}


def test_compute_metrics_directly():
    metric = VQAMetric()
    metric.process(None, vqa_samples())
    # One entry per data sample, the detection-only one included (empty).
    assert [len(r) for r in metric.results] == [2, 0, 1, 1]
    metrics = metric.compute_metrics(metric.results)
    assert metrics['num_questions'] == 4


def test_padded_samples_are_dropped_by_size():
    # A distributed sampler pads with repeated samples; the evaluator then
    # passes the true dataset size and only that many entries count.
    samples = vqa_samples()
    padded = samples + [samples[0]]
    metrics = run_evaluator(
        Evaluator(VQAMetric()), padded, size=len(samples))
    assert metrics['vqa/num_questions'] == 4


def test_length_mismatch_raises():
    metric = VQAMetric()
    bad = dict(
        img_path='data/coco/val2014/000123.jpg',
        pred_answers=['yes', 'no', '2'],
        gt_answers=['yes', 'no'])
    with pytest.raises(ValueError) as err:
        metric.process(None, [bad])
    msg = str(err.value)
    assert 'data/coco/val2014/000123.jpg' in msg
    assert '3 pred_answers' in msg and '2 gt_answers' in msg


def test_length_mismatch_without_img_path():
    with pytest.raises(ValueError, match='1 pred_answers but 2 gt_answers'):
        VQAMetric().process(
            None, [dict(pred_answers=['yes'], gt_answers=['yes', 'no'])])


def test_missing_gt_answers_raises():
    with pytest.raises(ValueError, match='img_9.jpg.*no gt_answers'):
        VQAMetric().process(
            None, [dict(img_path='img_9.jpg', pred_answers=['yes'])])


def test_optional_field_length_mismatch_raises():
    sample = dict(
        img_path='img_0.jpg',
        pred_answers=['yes', 'no'],
        gt_answers=['yes', 'no'],
        question_ids=['q0'])
    with pytest.raises(ValueError, match='img_0.jpg.*1 question_ids'):
        VQAMetric().process(None, [sample])


def test_no_questions_warns(monkeypatch):
    calls = []

    def fake_print_log(msg, logger=None, level=logging.INFO):
        calls.append((msg, logger, level))

    monkeypatch.setattr(vqa_metric_module, 'print_log', fake_print_log)
    detection_only = [dict(img_path='img_1.jpg', pred_instances=dict())]
    metrics = run_evaluator(Evaluator(VQAMetric()), detection_only)
    # nothing scored: no accuracy at all, never a 0.0
    assert metrics == {}
    warnings = [c for c in calls if c[2] == logging.WARNING]
    assert len(warnings) == 1
    assert warnings[0][1] == 'current'


def test_outfile_written(tmp_path):
    prefix = tmp_path / 'sub' / 'results'
    metrics = run_evaluator(
        Evaluator(VQAMetric(outfile_prefix=str(prefix))), vqa_samples())
    path = tmp_path / 'sub' / 'results.vqa.json'
    assert path.is_file()
    records = json.loads(path.read_text(encoding='utf-8'))
    assert len(records) == metrics['vqa/num_questions'] == 4
    assert all(
        set(r) == {'question_id', 'question', 'pred', 'gt', 'acc'}
        for r in records)
    assert records[0] == dict(
        question_id='q0',
        question='Is there a dog?',
        pred='Yes!',
        gt='yes',
        acc=1.0)
    assert records[2]['gt'] == TEN_TWOS_OF_TWO
    assert records[2]['acc'] == pytest.approx(0.6)
    assert [r['question_id'] for r in records] == ['q0', 'q1', 'q2', 'q3']


def test_outfile_without_optional_fields(tmp_path):
    prefix = tmp_path / 'bare'
    run_evaluator(
        Evaluator(VQAMetric(outfile_prefix=str(prefix))),
        [dict(pred_answers=['no'], gt_answers=['yes'])])
    records = json.loads((tmp_path / 'bare.vqa.json').read_text())
    assert records == [
        dict(question_id=None, question=None, pred='no', gt='yes', acc=0.0)
    ]
