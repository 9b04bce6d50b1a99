"""Score the boxes and masks that the language model wrote as text."""
from typing import Any, List, Optional, Sequence

import numpy as np
import torch
from mmdet.evaluation.functional import bbox_overlaps
from mmengine.evaluator import BaseMetric

from llava_detseg.models.utils import build_in_scope
from llava_detseg.registry import METRICS
from llava_detseg.structures import DetSegTextCodec
from llava_detseg.structures.box_scores import copied_box_scores


@METRICS.register_module()
class TextDetSegMetric(BaseMetric):
    """text-mAP, text-mIoU, parse failures and head<->text agreement.

    Reads each sample's ``text_conversations`` (from
    ``GenerateTextInstructions``) and the model's ``pred_texts``, parses
    every answer with ``DetSegTextCodec`` in original-image coordinates and

    * feeds the boxes of the ``det_all`` answers ("Detect all objects.") to
      the same ``mmdet.CocoMetric`` as the detection head, and the masks of
      ``seg_all`` answers to the same ``mmseg.IoUMetric`` as the
      segmentation head. Text has no scores; ``box_scores`` says what ranks
      the text boxes (COCO AP needs a ranking across images):

      - ``'context'`` (default): a text box that copies one of the head's
        boxes (score >= ``head_score_thr``, same class, same bins: the item
        the grounded context offered) carries that box's score, as the
        answer refers to that detection; other boxes get their rank score
        (below) times ``head_score_thr``, below every copied one.
        The rank-score numbers are reported beside them (``rank_bbox_mAP``
        ...), so the ranking's share of the result stays visible.
      - ``'rank'``: the rank scores the codec reads from the written order
        for all boxes: the box's class's place among the answer's classes
        times its place among its class's boxes
        (``text_parse.answer_rank_scores``; generative answers copy
        nothing, so there both are the same).

      Where the model gave its confidence in each box
      (``pred_text_box_scores``: the probability the model gave the box's
      tokens before constrained decoding, ``token_scores.py``), AP with
      those is reported too
      (``lm_bbox_mAP`` ...): the ranking the language model makes itself,
      comparable across images. An answer whose parsed boxes do not match
      its scored ones one to one (a malformed item) falls back to its rank
      scores there.
    * ``parse_failure_rate``: answers with any parse failure or without a
      block their instruction asked for, over all text answers;
    * ``only_class_purity``: ``det_class`` answers ("Detect only the
      circles.") that parse cleanly and hold a ``<DET>`` block with nothing
      but that class; ``only_class_recall``: the share of the head's boxes
      of the asked class (score >= ``head_score_thr``: the context's items)
      that those answers keep (same class, IoU >= ``agreement_iou``), so
      that purity won by closing the block early shows;
      ``seg_only_class_purity``: the same for ``seg_class`` answers
      ("Segment the circle.") and their ``<SEG>`` block, when the test set
      has them (``GenerateTextInstructions(test_kinds=...)``);
    * ``count_acc``: ``count`` answers whose number is right;
    * ``det_agreement``: F1 of matching the text boxes of ``det_all`` to the
      head's boxes with score >= ``head_score_thr`` (same class, IoU >=
      ``agreement_iou``); ``seg_agreement``: mean over classes of the IoU
      between the text mask and the head's mask.

    Args:
        det_metric (dict): Config of the box metric (``ann_file`` as for the
            head's; ``DetCocoMetric`` scores answers without any box as
            AP 0 with their count, where mmdet's ``CocoMetric`` returns
            nothing).
        seg_metric (dict): Config of the mask metric.
        codec (dict, optional): ``DetSegTextCodec`` arguments other than the
            classes, which come from the dataset meta.
        head_score_thr (float): Head boxes compared for agreement and
            whose scores copied boxes carry (use the model's
            ``text_cfg.context_score_thr``).
        agreement_iou (float): IoU of an agreeing box pair.
        box_scores (str): ``'context'`` or ``'rank'`` (see above).
        collect_device (str): As for ``BaseMetric``.
        prefix (str, optional): Default ``'text'``.
    """

    default_prefix: Optional[str] = 'text'

    def __init__(self,
                 det_metric: Optional[dict] = None,
                 seg_metric: Optional[dict] = None,
                 codec: Optional[dict] = None,
                 head_score_thr: float = 0.3,
                 agreement_iou: float = 0.5,
                 box_scores: str = 'context',
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.det_metric = build_in_scope(
            METRICS, det_metric) if det_metric is not None else None
        self.seg_metric = build_in_scope(
            METRICS, seg_metric) if seg_metric is not None else None
        self.codec_cfg = dict(codec or {})
        self.codec: Optional[DetSegTextCodec] = None
        self.head_score_thr = head_score_thr
        self.agreement_iou = agreement_iou
        if box_scores not in ('context', 'rank'):
            raise ValueError('TextDetSegMetric: box_scores must be "context" '
                             f'or "rank", got {box_scores!r}')
        self.box_scores = box_scores

    @property
    def dataset_meta(self) -> Optional[dict]:
        return self._dataset_meta

    @dataset_meta.setter
    def dataset_meta(self, meta: Optional[dict]) -> None:
        self._dataset_meta = meta
        if meta is None:
            return
        seg_classes = meta.get('seg_classes') or ('background', ) + tuple(
            meta['classes'])
        self.codec = DetSegTextCodec(meta['classes'], seg_classes,
                                     **self.codec_cfg)
        if self.det_metric is not None:
            self.det_metric.dataset_meta = meta
        if self.seg_metric is not None:
            # mmseg's IoUMetric reads the semantic labels as "classes"
            self.seg_metric.dataset_meta = dict(meta, classes=seg_classes)

    # ------------------------------------------------------------------
    def process(self, data_batch: Any, data_samples: Sequence[dict]) -> None:
        """Parse and score one batch; one result entry per sample."""
        if self.codec is None:
            raise RuntimeError('TextDetSegMetric needs the dataset meta '
                               '(classes) before process()')
        nseg = len(self.codec.seg_classes)
        for sample in data_samples:
            rec = dict(answers=0, failed=0, det_class=0, pure=0, count=0,
                       count_ok=0, only_kept=0, only_head=0, seg_class=0,
                       seg_pure=0, agree_tp=0, agree_text=0, agree_head=0,
                       agree_inter=np.zeros(nseg), agree_union=np.zeros(nseg))
            det_res: List = []
            seg_res: List = []
            items = sample.get('text_conversations') or []
            texts = sample.get('pred_texts') or []
            confidence = sample.get('pred_text_box_scores') or [None] * len(
                texts)
            shape = tuple(sample['ori_shape'][:2])
            for item, text, lm in zip(items, texts, confidence):
                parsed = self.codec.decode(text, shape)
                want_det = item.get('det') is not None
                want_seg = item.get('seg') is not None
                rec['answers'] += 1
                rec['failed'] += int(not parsed.ok
                                     or (want_det and not parsed.has_det)
                                     or (want_seg and not parsed.has_seg))
                kind = item.get('kind')
                if kind == 'det_all':
                    det_res += self._score_det(sample, parsed, rec, lm)
                elif kind == 'seg_all':
                    seg_res += self._score_seg(sample, parsed, rec)
                elif kind == 'det_class':
                    rec['det_class'] += 1
                    rec['pure'] += int(parsed.ok and parsed.has_det and set(
                        parsed.labels.tolist()) <= set(item['det']))
                    self._score_recall(sample, parsed, item['det'], rec)
                elif kind == 'seg_class':
                    rec['seg_class'] += 1
                    rec['seg_pure'] += int(
                        parsed.ok and parsed.has_seg
                        and {lab for lab, _ in parsed.polygons}
                        <= set(item['seg']))
                elif kind == 'count':
                    rec['count'] += 1
                    words = parsed.answer.split()
                    rec['count_ok'] += int(bool(words)
                                           and words[0] == item.get('gt'))
            self.results.append((rec, det_res, seg_res))

    def _head_boxes(self, sample: dict) -> Optional[tuple]:
        """The head's boxes, labels and scores with score >=
        ``head_score_thr`` as numpy arrays; None without predictions."""
        head = sample.get('pred_instances')
        if head is None:
            return None
        keep = head['scores'] >= self.head_score_thr
        return tuple(head[k][keep].cpu().numpy()
                     for k in ('bboxes', 'labels', 'scores'))

    def _score_det(self, sample: dict, parsed, rec: dict,
                   lm: Optional[Sequence[float]] = None) -> list:
        head = self._head_boxes(sample)
        hb, hl, hs = head if head is not None else (None, None, None)
        if head is not None:
            rec['agree_tp'] += _matches(parsed.bboxes, parsed.labels, hb, hl,
                                        self.agreement_iou)
            rec['agree_text'] += len(parsed.bboxes)
            rec['agree_head'] += len(hb)
        if self.det_metric is None:
            return []
        out = []
        scores = dict(rank=parsed.scores)
        if lm is not None:
            scores['lm'] = np.asarray(lm, np.float32) if len(lm) == len(
                parsed.scores) else parsed.scores
        if self.box_scores == 'context':
            scores['context'] = self._copied_scores(parsed, hb, hl, hs,
                                                    sample['ori_shape'][:2])
        for name, score in scores.items():
            pred = dict(bboxes=torch.from_numpy(parsed.bboxes),
                        scores=torch.from_numpy(score),
                        labels=torch.from_numpy(parsed.labels))
            inner = self.det_metric.results
            start = len(inner)
            self.det_metric.process(None, [dict(sample, pred_instances=pred)])
            out += [(name, r) for r in inner[start:]]
            del inner[start:]
        return out

    def _score_recall(self, sample: dict, parsed, classes: Sequence[int],
                      rec: dict) -> None:
        """Count the head's boxes of ``classes`` and those the answer
        keeps (``only_class_recall``)."""
        head = self._head_boxes(sample)
        if head is None:
            return
        hb, hl, _ = head
        asked = np.isin(hl, list(classes))
        rec['only_head'] += int(asked.sum())
        rec['only_kept'] += _matches(parsed.bboxes, parsed.labels, hb[asked],
                                     hl[asked], self.agreement_iou)

    def _copied_scores(self, parsed, hb, hl, hs, shape) -> np.ndarray:
        """Per text box: the score of the head box it copies, else its rank
        score below ``head_score_thr`` (``copied_box_scores``)."""
        return copied_box_scores(self.codec, parsed, hb, hl, hs,
                                 self.head_score_thr)

    def _score_seg(self, sample: dict, parsed, rec: dict) -> list:
        text_map = parsed.render_sem_seg(
            background=self.codec.background_index or 0)
        head = sample.get('pred_sem_seg')
        if head is not None:
            hmap = head['data'].squeeze().cpu().numpy()
            for c in range(len(self.codec.seg_classes)):
                if c == self.codec.background_index:
                    continue
                a, b = text_map == c, hmap == c
                rec['agree_inter'][c] += (a & b).sum()
                rec['agree_union'][c] += (a | b).sum()
        if self.seg_metric is None or 'gt_sem_seg' not in sample:
            return []
        inner = self.seg_metric.results
        start = len(inner)
        pred = dict(data=torch.from_numpy(text_map)[None])
        self.seg_metric.process(None, [dict(sample, pred_sem_seg=pred)])
        out = inner[start:]
        del inner[start:]
        return out

    def compute_metrics(self, results: list) -> dict:
        recs = [r for r, _, _ in results]
        total = {k: sum(r[k] for r in recs) for k in recs[0]} if recs else {}
        out = {}
        if not recs or total['answers'] == 0:
            return dict(num_answers=0)
        out['num_answers'] = int(total['answers'])
        out['parse_failure_rate'] = total['failed'] / total['answers']
        if total['det_class']:
            out['only_class_purity'] = total['pure'] / total['det_class']
        if total['seg_class']:
            out['seg_only_class_purity'] = total['seg_pure'] / total[
                'seg_class']
        if total['only_head']:
            out['only_class_recall'] = total['only_kept'] / total['only_head']
        if total['count']:
            out['count_acc'] = total['count_ok'] / total['count']
        if total['agree_text'] + total['agree_head']:
            out['det_agreement'] = 2 * total['agree_tp'] / (
                total['agree_text'] + total['agree_head'])
        union = total['agree_union']
        if union.sum():
            out['seg_agreement'] = float(
                (total['agree_inter'][union > 0] / union[union > 0]).mean())
        det = [r for _, d, _ in results for r in d]
        if det and self.det_metric is not None:
            # rank scores first, so the main numbers are logged last
            # the main ranking (box_scores) last, its numbers unprefixed
            names = [n for n in ('rank', 'lm', 'context')
                     if n != self.box_scores and any(m == n for m, _ in det)
                     ] + [self.box_scores]
            for name in names:
                part = [r for n, r in det if n == name]
                prefix = f'{name}_' if name != self.box_scores else ''
                # answers without a box are a real 0: DetCocoMetric scores
                # them so, with the prediction count
                res = self.det_metric.compute_metrics(part)
                out.update({prefix + k: v for k, v in res.items()})
        seg = [r for _, _, s in results for r in s]
        if seg and self.seg_metric is not None:
            out.update(self.seg_metric.compute_metrics(seg))
        return out


def _matches(tb: np.ndarray, tl: np.ndarray, hb: np.ndarray, hl: np.ndarray,
             thr: float) -> int:
    """Greedy one-to-one matches (same label, IoU >= thr) between two box
    sets, in the order of the text boxes."""
    if len(tb) == 0 or len(hb) == 0:
        return 0
    iou = bbox_overlaps(np.asarray(tb), np.asarray(hb))
    iou[tl[:, None] != hl[None, :]] = 0
    used = np.zeros(len(hb), bool)
    tp = 0
    for i in range(len(tb)):
        cand = np.where(used, -1, iou[i])
        j = int(cand.argmax())
        if cand[j] >= thr:
            used[j] = True
            tp += 1
    return tp


# (head metric, text metric) pairs that tools/test.py prints side by side
HEAD_TEXT_PAIRS = (('coco/bbox_mAP', 'text/bbox_mAP'),
                   ('coco/bbox_mAP_50', 'text/bbox_mAP_50'),
                   ('seg/mIoU', 'text/mIoU'))


def head_vs_text_lines(metrics: dict) -> List[str]:
    """``head`` beside ``text`` for each metric pair present, plus the
    text-only numbers; empty when no text metric ran."""
    if not any(k.startswith('text/') for k in metrics):
        return []
    lines = ['Head vs text:']
    for head, text in HEAD_TEXT_PAIRS:
        if head in metrics and text in metrics:
            # text boxes ranked by the language model's own order beside
            # those carrying the copied head scores: the heads' share
            own = text.replace('text/', 'text/rank_')
            lm = text.replace('text/', 'text/lm_')
            lines.append(
                f'  {head.split("/")[1]}: head {metrics[head]:.4f}'
                f'  text {metrics[text]:.4f}' +
                (f' (own ranking {metrics[own]:.4f})'
                 if own in metrics else '') +
                (f' (own confidence {metrics[lm]:.4f})'
                 if lm in metrics else ''))
    for key in ('parse_failure_rate', 'only_class_purity',
                'only_class_recall', 'seg_only_class_purity', 'count_acc',
                'det_agreement', 'seg_agreement'):
        if f'text/{key}' in metrics:
            lines.append(f'  {key}: {metrics["text/" + key]:.4f}')
    return lines


__all__ = ['TextDetSegMetric', 'head_vs_text_lines']
