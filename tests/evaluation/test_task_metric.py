import pytest
import torch
from mmengine.evaluator import Evaluator
from mmengine.registry import init_default_scope

from llava_detseg.evaluation import TaskMetric


def _seg_sample(tasks, pred, gt):
    return dict(tasks=tasks,
                pred_sem_seg=dict(data=torch.tensor(pred)[None]),
                gt_sem_seg=dict(data=torch.tensor(gt)[None]))


def test_only_the_tasks_samples_are_scored_with_remapped_meta():
    init_default_scope('llava_detseg')
    metric = TaskMetric(
        task='seg',
        meta_keys=dict(classes='seg_classes'),
        metric=dict(type='mmseg.IoUMetric', iou_metrics=['mIoU'],
                    prefix='seg'))
    evaluator = Evaluator([metric])
    evaluator.dataset_meta = dict(classes=('a', ), seg_classes=('bg', 'a'))
    assert metric.metric.dataset_meta['classes'] == ('bg', 'a')
    perfect = _seg_sample(['seg'], [[0, 1], [1, 1]], [[0, 1], [1, 1]])
    # wrong everywhere, but not a segmentation sample: must not count
    other = _seg_sample(['vqa'], [[1, 1], [1, 1]], [[0, 0], [0, 0]])
    evaluator.process([perfect, other])
    assert len(metric.results) == 2  # one entry per sample, aligned
    out = evaluator.evaluate(2)
    assert out['seg/mIoU'] == pytest.approx(100.0)


def test_missing_meta_key_is_named():
    init_default_scope('llava_detseg')
    metric = TaskMetric(task='seg', meta_keys=dict(classes='seg_classes'),
                        metric=dict(type='mmseg.IoUMetric'))
    with pytest.raises(KeyError, match='no "seg_classes"'):
        metric.dataset_meta = dict(classes=('a', ))


def test_no_sample_of_the_task_gives_no_metrics():
    init_default_scope('llava_detseg')
    metric = TaskMetric(
        task='seg', meta_keys=dict(classes='seg_classes'),
        metric=dict(type='mmseg.IoUMetric', prefix='seg'))
    evaluator = Evaluator([metric])
    evaluator.dataset_meta = dict(classes=('a', ), seg_classes=('bg', 'a'))
    evaluator.process([_seg_sample(['det'], [[0]], [[0]])])
    assert evaluator.evaluate(1) == {}
