"""Accuracy: top-k as mmpretrain computes it, on hand-made predictions."""
import logging

import pytest
import torch
from mmdet.structures import DetDataSample
from mmengine.evaluator import Evaluator
from mmengine.registry import init_default_scope

from llava_detseg.evaluation.metrics import Accuracy
from llava_detseg.evaluation.metrics import accuracy_metric
from llava_detseg.registry import METRICS

# 4 samples, 6 classes; true classes 0, 1, 2, 3
SCORES = torch.tensor([
    [0.50, 0.20, 0.10, 0.10, 0.05, 0.05],  # top-1 right
    [0.40, 0.30, 0.10, 0.10, 0.05, 0.05],  # 2nd
    [0.30, 0.25, 0.01, 0.20, 0.15, 0.09],  # 6th: wrong even in top-5
    [0.10, 0.10, 0.10, 0.60, 0.05, 0.05],  # top-1 right
])
GT = [0, 1, 2, 3]


def _samples(scores=SCORES, gt=GT, tasks=('cls', )):
    out = []
    for s, g in zip(scores, gt):
        sample = DetDataSample(metainfo=dict(tasks=list(tasks)))
        sample.pred_score, sample.gt_label = s, torch.tensor([g])
        out.append(sample)
    return out


@pytest.fixture
def warnings(monkeypatch):
    """The warning lines the metrics log."""
    lines = []

    def fake_print_log(msg, logger=None, level=logging.INFO):
        if level == logging.WARNING:
            lines.append(msg)

    monkeypatch.setattr(accuracy_metric, 'print_log', fake_print_log)
    return lines


def _evaluate(metric, samples):
    evaluator = Evaluator(metric)
    evaluator.process(samples)
    return evaluator.evaluate(len(samples))


def test_top1_top5_by_hand():
    init_default_scope('llava_detseg')
    metric = METRICS.build(dict(type='Accuracy'))
    assert metric.topk == (1, 5)
    assert _evaluate(metric, _samples()) == {'accuracy/top1': 50.0,
                                             'accuracy/top5': 75.0}


def test_thresholds_and_labels_only():
    acc = Accuracy.calculate(SCORES, GT, topk=(1, 2), thrs=(0., 0.55, None))
    assert [[round(a.item(), 4) for a in row] for row in acc] == \
        [[50.0, 25.0, 50.0], [75.0, 25.0, 75.0]]
    metric = Accuracy(topk=1, thrs=(0.55, None))
    assert _evaluate(metric, _samples()) == {
        'accuracy/top1_thr-0.55': 25.0, 'accuracy/top1_no-thr': 50.0}
    # mmpretrain's own docstring example: labels give top-1 only
    assert Accuracy.calculate([0, 2, 1, 3], [0, 1, 2, 3]).item() == 50.0
    labels = []
    for p, g in zip([0, 2, 1, 3], GT):
        s = DetDataSample()
        s.pred_label, s.gt_label = torch.tensor([p]), torch.tensor([g])
        labels.append(s)
    assert _evaluate(Accuracy(), labels) == {'accuracy/top1': 50.0}


def test_top5_left_out_below_five_classes(warnings):
    three = SCORES[:2, :3]
    out = _evaluate(Accuracy(), _samples(three, [0, 1]))
    assert out == {'accuracy/top1': 50.0}
    assert len(warnings) == 1 and 'left out [5]' in warnings[0]
    with pytest.raises(ValueError, match='Top-5 accuracy is unavailable'):
        Accuracy.calculate(three, [0, 1], topk=(5, ))


def test_nothing_scored_reports_no_key_and_warns(warnings):
    others = [DetDataSample(metainfo=dict(tasks=['det'])) for _ in range(3)]
    assert _evaluate(Accuracy(), others) == {}
    assert len(warnings) == 1
    assert 'no sample carried pred_score or pred_label' in warnings[0]


def test_other_tasks_samples_are_not_scored_and_task_metric_filters():
    init_default_scope('llava_detseg')
    mixed = _samples() + [DetDataSample(metainfo=dict(tasks=['det']))]
    assert _evaluate(Accuracy(), mixed)['accuracy/top1'] == 50.0
    # a cls prediction on a sample of another task is left to TaskMetric
    stray = _samples(SCORES[:1], [5], tasks=('vqa', ))
    wrapped = METRICS.build(dict(type='TaskMetric', task='cls',
                                 metric=dict(type='Accuracy')))
    assert _evaluate(wrapped, _samples() + stray) == {
        'accuracy/top1': 50.0, 'accuracy/top5': 75.0}


def test_bad_input():
    with pytest.raises(ValueError, match='topk must be integers >= 1'):
        Accuracy(topk=0)
    sample = DetDataSample()
    sample.pred_score = SCORES[0]
    with pytest.raises(ValueError, match='class prediction but no gt_label'):
        Accuracy().process(None, [sample.to_dict()])
    with pytest.raises(ValueError, match='3 predictions for 2 targets'):
        Accuracy.calculate(SCORES[:3], [0, 1])
