"""ConfusionMatrix: counts by hand, the PNG, and the nothing-scored case."""
import logging

import numpy as np
import pytest
import torch
from mmdet.structures import DetDataSample
from mmengine.evaluator import Evaluator
from mmengine.visualization import LocalVisBackend, Visualizer
from PIL import Image

from llava_detseg.evaluation.metrics import (ConfusionMatrix, accuracy_metric,
                                             plot_confusion_matrix)

PRED = [0, 1, 1, 3, 2, 2]
GT = [0, 2, 1, 3, 2, 0]
# rows true, columns predicted
EXPECTED = [[1, 0, 1, 0],
            [0, 1, 0, 0],
            [0, 1, 1, 0],
            [0, 0, 0, 1]]


def _samples(pred=PRED, gt=GT, scores=False):
    out = []
    for p, g in zip(pred, gt):
        s = DetDataSample()
        if scores:
            s.pred_score = torch.nn.functional.one_hot(
                torch.tensor(p), 4).float() + 0.01
        else:
            s.pred_label = torch.tensor([p])
        s.gt_label = torch.tensor([g])
        out.append(s)
    return out


def _evaluate(metric, samples, classes=None):
    evaluator = Evaluator(metric)
    if classes:
        evaluator.dataset_meta = dict(classes=classes)
    evaluator.process(samples)
    return evaluator.evaluate(len(samples))


def test_matrix_by_hand_from_labels_and_scores(tmp_path):
    # mmpretrain's docstring example
    assert ConfusionMatrix.calculate([0, 1, 1, 3], [0, 2, 1, 3], 4).tolist() \
        == [[1, 0, 0, 0], [0, 1, 0, 0], [0, 1, 0, 0], [0, 0, 0, 1]]
    out = _evaluate(ConfusionMatrix(num_classes=4, to_visualizer=False),
                    _samples())
    assert out['confusion_matrix/result'].tolist() == EXPECTED
    out = _evaluate(ConfusionMatrix(to_visualizer=False),
                    _samples(scores=True))
    assert out['confusion_matrix/result'].tolist() == EXPECTED
    # classes from the dataset meta, with a sample of another task
    other = DetDataSample(metainfo=dict(tasks=['det']))
    out = _evaluate(ConfusionMatrix(to_visualizer=False),
                    _samples() + [other], classes=['a', 'b', 'c', 'd', 'e'])
    assert out['confusion_matrix/result'].shape == (5, 5)
    assert out['confusion_matrix/result'].sum() == len(PRED)


def test_png_written_to_out_dir_and_visualizer(tmp_path):
    vis = Visualizer.get_instance(
        'cm_test', vis_backends=[dict(type='LocalVisBackend')],
        save_dir=str(tmp_path / 'vis'))
    assert isinstance(vis._vis_backends['LocalVisBackend'], LocalVisBackend)
    metric = ConfusionMatrix(out_dir=str(tmp_path / 'cm'))
    # the file names carry the run's iteration (earlier tests leave theirs)
    from mmengine.logging import MessageHub
    MessageHub.get_current_instance().update_info('iter', 7)
    try:
        _evaluate(metric, _samples(), classes=['w', 'x', 'y', 'z'])
    finally:  # later tests must not find this visualizer current
        Visualizer._instance_dict.pop('cm_test')
    png = tmp_path / 'cm' / 'confusion_matrix_7.png'
    assert png.is_file() and Image.open(png).size[0] > 100
    vis_png = tmp_path / 'vis' / 'vis_data' / 'vis_image' / \
        'confusion_matrix_7.png'
    assert vis_png.is_file()


def test_plot_has_the_classes_and_values():
    fig = plot_confusion_matrix(torch.tensor(EXPECTED), ['w', 'x', 'y', 'z'])
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ['w', 'x', 'y',
                                                           'z']
    texts = sorted(t.get_text() for t in ax.texts)
    assert texts == sorted(str(v) for row in EXPECTED for v in row)
    image = np.asarray(ax.images[0].get_array())
    assert image.tolist() == EXPECTED


def test_nothing_scored_and_bad_labels(monkeypatch):
    warnings = []
    monkeypatch.setattr(
        accuracy_metric, 'print_log',
        lambda msg, logger=None, level=logging.INFO: warnings.append(msg))
    assert _evaluate(ConfusionMatrix(num_classes=4),
                     [DetDataSample() for _ in range(2)]) == {}
    assert len(warnings) == 1 and 'no sample carried' in warnings[0]
    with pytest.raises(ValueError, match='set num_classes'):
        _evaluate(ConfusionMatrix(to_visualizer=False), _samples())
    with pytest.raises(ValueError, match=r'gt labels outside 0\.\.2'):
        ConfusionMatrix.calculate([0, 1], [0, 3], num_classes=3)
