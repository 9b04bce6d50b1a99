"""DetCocoMetric: no predicted box is a real 0 with its count; otherwise
exactly mmdet's CocoMetric."""
import json

import numpy as np
import pytest
import torch

from llava_detseg.evaluation import DetCocoMetric
from mmdet.evaluation import CocoMetric


@pytest.fixture
def ann_file(tmp_path):
    path = tmp_path / 'instances.json'
    json.dump(dict(
        images=[dict(id=i, width=64, height=64, file_name=f'{i}.png')
                for i in (1, 2)],
        categories=[dict(id=1, name='circle'), dict(id=2, name='square')],
        annotations=[dict(id=k + 1, image_id=i, category_id=c,
                          bbox=[x, x, 20, 20], area=400, iscrowd=0)
                     for k, (i, c, x) in enumerate([(1, 1, 5), (1, 2, 30),
                                                    (2, 1, 10)])]),
        path.open('w'))
    return str(path)


def _samples(boxes):
    out = []
    for img, b in zip((1, 2), boxes):
        b = np.asarray(b, np.float32).reshape(-1, 5)
        out.append(dict(
            img_id=img, ori_shape=(64, 64),
            pred_instances=dict(bboxes=torch.from_numpy(b[:, :4]),
                                scores=torch.from_numpy(b[:, 4]),
                                labels=torch.zeros(len(b), dtype=torch.long))))
    return out


def _score(cls, ann_file, samples):
    metric = cls(ann_file=ann_file, metric='bbox')
    metric.dataset_meta = dict(classes=('circle', 'square'))
    metric.process({}, samples)
    return metric.evaluate(len(samples))


def test_no_prediction_scores_zero_with_the_count(ann_file):
    samples = _samples([[], []])
    assert 'coco/bbox_mAP' not in _score(CocoMetric, ann_file, samples)
    out = _score(DetCocoMetric, ann_file, samples)
    assert out['coco/bbox_mAP'] == 0.0 and out['coco/bbox_mAP_50'] == 0.0
    assert out['coco/bbox_num_predictions'] == 0


def test_with_predictions_equals_mmdet(ann_file):
    samples = _samples([[[5, 5, 25, 25, 0.9], [0, 0, 10, 10, 0.5]],
                        [[12, 12, 30, 30, 0.8]]])
    want = _score(CocoMetric, ann_file, samples)
    got = _score(DetCocoMetric, ann_file, _samples(
        [[[5, 5, 25, 25, 0.9], [0, 0, 10, 10, 0.5]], [[12, 12, 30, 30, 0.8]]]))
    assert got.pop('coco/bbox_num_predictions') == 3
    assert got == want and 0 < want['coco/bbox_mAP'] < 1
