import copy

import pytest
import torch
from mmengine.structures import InstanceData

from llava_detseg.registry import DATASETS, METRICS
from llava_detseg.utils import register_all_modules

CLASSES = ('circle', 'square', 'triangle')


@pytest.fixture(scope='module')
def samples(shapes_root):
    """Val samples with text instructions and their reference answers."""
    register_all_modules()
    ds = DATASETS.build(
        dict(type='ShapesDataset', data_root=shapes_root,
             ann_file='annotations/instances_val.json',
             conv_file='annotations/llava_val.json',
             data_prefix=dict(img='images/val/', seg='semantic/val/'),
             seg_map_suffix='.png', test_mode=True,
             pipeline=[
                 dict(type='LoadImageWithCheck'),
                 dict(type='mmdet.LoadAnnotations', with_bbox=True,
                      with_seg=True),
                 dict(type='GenerateTextInstructions', classes=CLASSES,
                      num_per_image=None, coords='ori_shape',
                      kinds=('det_all', 'seg_all', 'det_class', 'count')),
                 dict(type='PackMultiTaskInputs'),
             ]))
    out = []
    for i in range(len(ds)):
        s = ds[i]['data_samples']
        # the "head" predicted the ground truth
        s.pred_instances = InstanceData(
            bboxes=s.gt_instances.bboxes.tensor,
            labels=s.gt_instances.labels,
            scores=torch.ones(len(s.gt_instances)))
        s.pred_sem_seg = copy.deepcopy(s.gt_sem_seg)
        out.append(s)
    return ds, out


def _run(ds, samples, texts_of):
    metric = METRICS.build(
        dict(type='TextDetSegMetric',
             det_metric=dict(type='DetCocoMetric',
                             ann_file=ds.ann_file, metric='bbox'),
             seg_metric=dict(type='mmseg.IoUMetric', iou_metrics=['mIoU'])))
    metric.dataset_meta = ds.metainfo
    batch = []
    for s in samples:
        s = s.clone()
        s.pred_texts = [texts_of(i) for i in s.text_conversations]
        batch.append(s.to_dict())
    metric.process(None, batch)
    return metric.evaluate(len(batch))


def test_reference_answers_score_like_the_ground_truth(samples):
    ds, ss = samples
    m = _run(ds, ss, lambda item: item['answer'])
    assert m['text/parse_failure_rate'] == 0
    assert m['text/only_class_purity'] == 1
    assert m['text/only_class_recall'] == 1
    assert m['text/count_acc'] == 1
    assert m['text/bbox_mAP'] > 0.95  # one-bin error only
    assert m['text/mIoU'] > 90
    assert m['text/det_agreement'] == 1
    assert m['text/seg_agreement'] > 0.9


def test_garbage_answers_fail_and_score_zero(samples):
    ds, ss = samples
    m = _run(ds, ss, lambda item: 'Answer: <DET>dog <loc_1>')
    assert m['text/parse_failure_rate'] == 1
    assert m['text/only_class_purity'] == 0
    # no box in any answer: a real 0 scored by the COCO metric, counted
    assert m['text/bbox_mAP'] == 0 and m['text/bbox_mAP_50'] == 0
    assert m['text/bbox_num_predictions'] == 0
    assert m['text/det_agreement'] == 0


def test_other_class_breaks_purity(samples):
    ds, ss = samples

    def wrong(item):
        if item['kind'] != 'det_class':
            return item['answer']
        other = CLASSES[(item['det'][0] + 1) % 3]
        return f'Answer: 1 <DET>{other} <loc_1><loc_1><loc_9><loc_9></DET>'

    m = _run(ds, ss, wrong)
    assert m['text/only_class_purity'] == 0
    assert m['text/only_class_recall'] == 0
    assert m['text/parse_failure_rate'] == 0


def test_empty_only_class_answers_are_pure_but_keep_nothing(samples):
    """Closing "only {class}" blocks at once keeps purity at 1; recall
    shows that the class's boxes were dropped. Keeping the first of each
    class's boxes gives recall strictly between."""
    ds, ss = samples

    def empty(item):
        if item['kind'] != 'det_class':
            return item['answer']
        return 'Answer: 0 <DET></DET>'

    m = _run(ds, ss, empty)
    assert m['text/only_class_purity'] == 1
    assert m['text/only_class_recall'] == 0

    def first(item):
        if item['kind'] != 'det_class':
            return item['answer']
        block = item['answer'].split('<DET>')[1].split('</DET>')[0]
        return f'Answer: 1 <DET>{block.split("; ")[0]}</DET>'

    m = _run(ds, ss, first)
    assert m['text/only_class_purity'] == 1
    assert 0 < m['text/only_class_recall'] < 1


def test_head_vs_text_lines():
    from llava_detseg.evaluation import head_vs_text_lines
    assert head_vs_text_lines({'coco/bbox_mAP': 0.4}) == []
    lines = head_vs_text_lines({'coco/bbox_mAP': 0.4, 'text/bbox_mAP': 0.25,
                                'text/parse_failure_rate': 0.5})
    assert lines[1] == '  bbox_mAP: head 0.4000  text 0.2500'
    assert lines[2] == '  parse_failure_rate: 0.5000'


def test_copied_boxes_carry_the_head_scores(samples):
    """A box copied from the head's list is ranked by that box's score, so
    the order the answer lists boxes in does not change text-mAP; rank
    scores (reported as rank_*) do depend on it. Boxes that copy nothing
    rank below every copied one."""
    ds, ss = samples
    heads, junk = [], {}
    for s in ss:
        s = s.clone()
        n = len(s.gt_instances)
        h, w = s.ori_shape[:2]
        # the ground truth at 0.9, plus a spurious box at 0.2 in a corner
        bad = torch.tensor([[0.0, 0.0, w * 0.05, h * 0.05]])
        s.pred_instances = InstanceData(
            bboxes=torch.cat([s.gt_instances.bboxes.tensor, bad]),
            labels=torch.cat([s.gt_instances.labels, torch.tensor([0])]),
            scores=torch.tensor([0.9] * n + [0.2]))
        heads.append(s)
    metric = METRICS.build(
        dict(type='TextDetSegMetric', head_score_thr=0.1,
             det_metric=dict(type='mmdet.CocoMetric', ann_file=ds.ann_file,
                             metric='bbox')))
    metric.dataset_meta = ds.metainfo
    codec = metric.codec
    batch = []
    for s in heads:
        pred = s.pred_instances
        items = codec.det_items(pred.bboxes, pred.labels, s.ori_shape[:2],
                                pred.scores)
        # the spurious box written first: it ranks first by position
        block = codec.det_block(items[-1:] + items[:-1])
        s.pred_texts = [f'Answer: {len(items)} {block}'
                        if i['kind'] == 'det_all' else i['answer']
                        for i in s.text_conversations]
        batch.append(s.to_dict())
    metric.process(None, batch)
    m = metric.evaluate(len(batch))
    assert m['text/bbox_mAP'] > 0.95
    assert m['text/rank_bbox_mAP'] < m['text/bbox_mAP'] - 0.05

    # a box the head does not have: its rank score times head_score_thr
    s = batch[0]
    shape = s['ori_shape'][:2]
    parsed = codec.decode(
        'Answer: <DET>square <loc_500><loc_500><loc_600><loc_600></DET>',
        shape)
    pred = s['pred_instances']
    scores = metric._copied_scores(
        parsed, pred['bboxes'].numpy(), pred['labels'].numpy(),
        pred['scores'].numpy(), shape)
    assert scores.tolist() == pytest.approx([0.1])
    with pytest.raises(ValueError, match='box_scores'):
        METRICS.build(dict(type='TextDetSegMetric', box_scores='logit'))


def test_the_models_own_confidence_ranks_across_images(samples):
    """``pred_text_box_scores`` (the model's probability of each box's class
    name) rank the boxes across images as ``lm_*``: a spurious box written
    first but given a low confidence no longer outranks the real ones; an
    answer whose scores do not match its boxes falls back to rank scores."""
    ds, ss = samples
    metric = METRICS.build(
        dict(type='TextDetSegMetric', box_scores='rank',
             det_metric=dict(type='mmdet.CocoMetric', ann_file=ds.ann_file,
                             metric='bbox')))
    metric.dataset_meta = ds.metainfo
    codec = metric.codec

    def batch(confident: bool) -> list:
        out = []
        for s in ss:
            s = s.clone()
            h, w = s.ori_shape[:2]
            bad = torch.tensor([[0.0, 0.0, w * 0.05, h * 0.05]])
            bboxes = torch.cat([bad, s.gt_instances.bboxes.tensor])
            labels = torch.cat([torch.tensor([0]), s.gt_instances.labels])
            items = codec.det_items(bboxes, labels, s.ori_shape[:2],
                                    torch.linspace(1, 0.5, len(bboxes)))
            s.pred_texts = [f'Answer: {len(items)} {codec.det_block(items)}'
                            if i['kind'] == 'det_all' else i['answer']
                            for i in s.text_conversations]
            conf = [0.05] + [0.9] * (len(items) - 1) if confident else [0.5]
            s.pred_text_box_scores = [conf if i['kind'] == 'det_all' else []
                                      for i in s.text_conversations]
            out.append(s.to_dict())
        return out

    metric.process(None, batch(True))
    m = metric.evaluate(len(ss))
    assert m['text/lm_bbox_mAP'] > m['text/bbox_mAP'] + 0.05  # rank: main
    metric.process(None, batch(False))  # one score for several boxes
    m = metric.evaluate(len(ss))
    assert m['text/lm_bbox_mAP'] == pytest.approx(m['text/bbox_mAP'])
