"""The text-mAP that a grounded answer can reach, per context setting.

A grounded "Detect all objects." answer copies items of its context: the
head's boxes with score >= ``context_score_thr``, at most
``context_max_boxes``, written in the ``<DET>`` format. This tool takes the
head predictions that ``tools/test.py --out preds.pkl`` dumped, writes each
image's context for every (threshold, max boxes) pair asked for, reads it
back with the codec and scores the copied boxes, carrying the head scores as
``TextDetSegMetric(box_scores='context')`` does, with the same
``mmdet.CocoMetric``. The result bounds text-mAP for an answer that copies
its whole context; the head's own mAP is printed beside it, so the share of
the gap that the context setting itself costs shows before any language
model is trained.

Text has no scores: a reader of the answer alone ranks its boxes by the
order they are written in (``text_parse.answer_rank_scores``, reported as
``text/rank_bbox_mAP``). The same copied contexts, written in each answer
order of ``GenerateTextInstructions`` (``'context'``, ``'class'``,
``'confidence'``) and scored with those rank scores, give what that form
can reach with a perfect copy: the share of the head's ranking the written
order carries.

Example:
    python tools/test.py CONFIG CKPT --out work_dirs/preds.pkl
    python tools/analysis_tools/text_context_bound.py CONFIG \
        work_dirs/preds.pkl --thr 0.1 0.05 --max-boxes 20 30
"""
import argparse
import os.path as osp
import pickle
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
from _bootstrap import ensure_package  # noqa: E402


def parse_args() -> argparse.Namespace:
    from mmengine.config import DictAction
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='the text config (its model.text_cfg '
                        'gives the codec, its test_evaluator the ann_file)')
    parser.add_argument('preds', help='predictions from tools/test.py --out')
    parser.add_argument('--thr', type=float, nargs='+', default=None,
                        help='context score thresholds (default: the '
                        "config's context_score_thr)")
    parser.add_argument('--max-boxes', type=int, nargs='+', default=None,
                        help="most boxes per context (default: the config's "
                        'context_max_boxes)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config keys, e.g. test_evaluator.0.'
                        'metric.ann_file=data/mine/annotations/val.json')
    return parser.parse_args()


def _ann_file(evaluators) -> str:
    """The COCO ann_file of the config's box metric."""
    for ev in evaluators if isinstance(evaluators, list) else [evaluators]:
        inner = ev.get('metric', ev)
        if inner.get('type', '').endswith('CocoMetric'):
            return inner['ann_file']
    raise KeyError('test_evaluator has no CocoMetric with an ann_file')


def main() -> int:
    args = parse_args()
    ensure_package()
    import numpy as np
    import torch
    from mmengine.config import Config

    from llava_detseg.datasets.transforms.text_instructions import (
        ANSWER_ORDERS, order_items)
    from llava_detseg.registry import METRICS
    from llava_detseg.structures import DetSegTextCodec
    from llava_detseg.utils import register_all_modules

    register_all_modules()
    if not osp.isfile(args.preds):
        print(f'error: {args.preds} does not exist (make it with '
              'tools/test.py CONFIG CKPT --out PREDS.pkl)', file=sys.stderr)
        return 2
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    text_cfg = cfg.model.get('text_cfg')
    if not text_cfg:
        print(f'error: {args.config} has no model.text_cfg', file=sys.stderr)
        return 2
    with open(args.preds, 'rb') as f:
        preds = pickle.load(f)
    if not preds or 'pred_instances' not in preds[0]:
        print(f'error: {args.preds} holds no pred_instances (was it written '
              'by tools/test.py --out on a detection config?)',
              file=sys.stderr)
        return 2
    codec = DetSegTextCodec(text_cfg['classes'], text_cfg.get('seg_classes'),
                            **(text_cfg.get('codec') or {}))
    try:
        ann_file = _ann_file(cfg.test_evaluator)
    except KeyError as e:
        print(f'error: {args.config}: {e.args[0]}', file=sys.stderr)
        return 2
    if not osp.isfile(ann_file):
        print(f'error: {ann_file} (test_evaluator ann_file of '
              f'{args.config}) does not exist', file=sys.stderr)
        return 2
    meta = dict(classes=tuple(text_cfg['classes']))

    def score(thr: float, max_boxes: int) -> dict:
        """bbox mAP and AP50 of the copied context with the head's scores
        ('copied'), and mAP with the rank scores of each answer order."""
        metrics = {}
        for name in ('copied', ) + ANSWER_ORDERS:
            metrics[name] = METRICS.build(dict(
                type='mmdet.CocoMetric', ann_file=ann_file, metric='bbox'))
            metrics[name].dataset_meta = meta
        for s in preds:
            pred = s['pred_instances']
            keep = pred['scores'] >= thr
            boxes, labels = pred['bboxes'][keep], pred['labels'][keep]
            scores = pred['scores'][keep]
            shape = tuple(s['ori_shape'][:2])
            items = codec.det_items(boxes, labels, shape,
                                    scores)[:max_boxes]
            parsed = codec.decode(codec.det_block(items), shape)
            order = np.argsort(-scores.numpy(), kind='stable')[:len(items)]
            outs = dict(copied=(parsed, scores[order].float()))
            for name in ANSWER_ORDERS:
                written = codec.decode(
                    codec.det_block(order_items(items, name)), shape)
                outs[name] = (written, torch.from_numpy(written.scores))
            for name, (p, sc) in outs.items():
                out = dict(bboxes=torch.from_numpy(p.bboxes),
                           labels=torch.from_numpy(p.labels), scores=sc)
                metrics[name].process(None, [dict(s, pred_instances=out)])
        res = {k: m.evaluate(len(preds)) for k, m in metrics.items()}
        return dict(res['copied'], **{
            f'rank_{k}': res[k]['coco/bbox_mAP'] for k in ANSWER_ORDERS})

    head = METRICS.build(dict(type='mmdet.CocoMetric', ann_file=ann_file,
                              metric='bbox'))
    head.dataset_meta = meta
    head.process(None, preds)
    head_map = head.evaluate(len(preds))['coco/bbox_mAP']
    rows = []
    for thr in args.thr or [text_cfg.get('context_score_thr', 0.3)]:
        for n in args.max_boxes or [text_cfg.get('context_max_boxes', 20)]:
            res = score(thr, n)
            rows.append((thr, n, res['coco/bbox_mAP'],
                         res['coco/bbox_mAP_50'],
                         [res[f'rank_{k}'] for k in ANSWER_ORDERS]))
    print(f'\nhead bbox_mAP {head_map:.4f} ({len(preds)} images)')
    ranks = ' | '.join(f'rank mAP, {k!r} order' for k in ANSWER_ORDERS)
    print('| context_score_thr | context_max_boxes | bound mAP | bound AP50 '
          f'| gap to head | {ranks} |')
    print('|---' * (5 + len(ANSWER_ORDERS)) + '|')
    for thr, n, m, m50, rank in rows:
        cells = ' | '.join(f'{r:.4f} ({r / head_map:.2f} x)' if head_map > 0
                           else f'{r:.4f}' for r in rank)
        print(f'| {thr:g} | {n} | {m:.4f} | {m50:.4f} | {head_map - m:.4f} '
              f'| {cells} |')
    return 0


if __name__ == '__main__':
    sys.exit(main())
