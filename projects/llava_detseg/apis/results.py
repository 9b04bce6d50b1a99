"""An answered sample as a JSON-ready prediction, and as a drawing."""
from typing import Dict, List, Optional, Sequence

import numpy as np
import pycocotools.mask as mask_utils
import torch
from mmdet.structures import DetDataSample
from mmengine.structures import InstanceData, PixelData

from llava_detseg.models.language.responder import Response
from llava_detseg.structures import DetSegTextCodec
from llava_detseg.structures.box_scores import copied_box_scores
from llava_detseg.structures.mask_polygons import rasterize_polygons


def _rle(mask: np.ndarray) -> dict:
    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    return dict(size=[int(s) for s in rle['size']],
                counts=rle['counts'].decode('ascii'))


def head_instances(sample: DetDataSample, score_thr: float):
    """The head's boxes with score >= ``score_thr`` (None if it did not
    run)."""
    pred = sample.get('pred_instances')
    if pred is None:
        return None
    return pred[pred.scores >= score_thr]


def _box_dicts(bboxes, labels, scores, classes, source) -> List[dict]:
    return [
        dict(bbox=[round(float(v), 2) for v in box], label=int(lab),
             **{'class': classes[int(lab)] if int(lab) < len(classes)
                else str(int(lab))},
             score=round(float(s), 4), source=source)
        for box, lab, s in zip(bboxes, labels, scores)
    ]


def _head_masks(sample: DetDataSample, codec: DetSegTextCodec,
                labels: Optional[Sequence[int]]) -> List[dict]:
    """One mask per label of the head's map (those asked for)."""
    pred = sample.get('pred_sem_seg')
    if pred is None:
        return []
    seg = pred.data[0].cpu().numpy()
    out = []
    for lab in np.unique(seg).tolist():
        if lab == codec.background_index or lab == codec.ignore_index or (
                labels is not None and lab not in labels):
            continue
        mask = seg == lab
        polys = codec.mask_polygons(mask.astype(np.uint8))
        out.append(dict(
            label=int(lab), **{'class': codec.seg_classes[lab]},
            polygon=[[round(float(x), 1), round(float(y), 1)]
                     for x, y in (polys[0] if polys else [])],
            rle=_rle(mask), area=int(mask.sum()), source='head'))
    return out


def prediction_dict(sample: DetDataSample, response: Optional[Response],
                    codec: DetSegTextCodec, score_thr: float,
                    has_text: bool, image: str,
                    generation: dict, problems: Dict[str, int]) -> dict:
    """The JSON-ready result of one image's answer.

    ``boxes`` / ``masks`` are the answer's (parsed from its blocks, in
    original pixels; ``source='text'``), or the heads' when the model has
    no text branch (``source='head'``); ``head_boxes`` are the detection
    head's boxes >= ``score_thr`` whatever the answer kept.
    """
    h, w = (int(v) for v in sample.ori_shape[:2])
    req = response.request
    head = head_instances(sample, score_thr)
    out = dict(image=image, img_shape=[h, w], instruction=req.question,
               tasks=[t for t, asked in (('det', req.det), ('seg', req.seg))
                      if asked is not None] or ['vqa'],
               answer=response.text, text=response.text,
               raw_text=response.text, boxes=[], masks=[],
               problems=dict(problems), error=None,
               truncated=bool(response.truncated),
               num_tokens=int(response.num_tokens),
               generation=dict(generation, max_new_tokens=(
                   generation.get('max_new_tokens')
                   or response.max_new_tokens)),
               pred_score_thr=score_thr)
    if response.truncated:
        out['problems']['truncated'] = 1
    out['head_boxes'] = [] if head is None else _box_dicts(
        head.bboxes.tolist(), head.labels.tolist(), head.scores.tolist(),
        codec.classes, 'head')
    if not req.wants_blocks:
        return out
    if not has_text:  # the heads' results are the answer
        if req.det is not None:
            out['boxes'] = [b for b in out['head_boxes']
                            if b['label'] in req.det]
        if req.seg is not None:
            out['masks'] = _head_masks(sample, codec, req.seg)
        return out
    parsed = codec.decode(response.text, (h, w))
    out['answer'] = parsed.answer
    out['problems'].update({k: int(v) for k, v in parsed.failures.items()})
    for kind, has in (('DET', parsed.has_det), ('SEG', parsed.has_seg)):
        asked = req.det if kind == 'DET' else req.seg
        if asked is not None and not has:
            out['problems'][f'missing_{kind.lower()}_block'] = 1
    hb = hl = hs = None
    if head is not None:
        hb, hl, hs = (head.bboxes.cpu().numpy(), head.labels.cpu().numpy(),
                      head.scores.cpu().numpy())
    scores = copied_box_scores(codec, parsed, hb, hl, hs, score_thr)
    out['boxes'] = _box_dicts(parsed.bboxes.tolist(), parsed.labels.tolist(),
                              scores.tolist(), codec.classes, 'text')
    for label, poly in parsed.polygons:
        mask = rasterize_polygons([(1, poly)], (h, w)) == 1
        out['masks'].append(dict(
            label=int(label), **{'class': codec.seg_classes[label]},
            polygon=[[round(float(x), 1), round(float(y), 1)]
                     for x, y in poly],
            rle=_rle(mask), area=int(mask.sum()), source='text'))
    return out


def error_dict(image: str, instruction, message: str,
               generation: dict, score_thr: float) -> dict:
    """The prediction of an input that could not be answered."""
    return dict(image=image, img_shape=None,
                instruction=instruction if isinstance(instruction, str)
                else repr(instruction),
                tasks=[], answer='', text='', raw_text='', boxes=[],
                masks=[], head_boxes=[], problems={'input_error': 1},
                error=message, truncated=False, num_tokens=0,
                generation=dict(generation), pred_score_thr=score_thr)


def drawing_sample(pred: dict, codec: DetSegTextCodec) -> DetDataSample:
    """A ``DetDataSample`` holding a prediction's boxes, masks and answer,
    for ``MultiTaskVisualizer``."""
    h, w = pred['img_shape']
    sample = DetDataSample(metainfo=dict(ori_shape=(h, w), img_shape=(h, w)))
    boxes = pred['boxes']
    inst = InstanceData()
    inst.bboxes = torch.tensor([b['bbox'] for b in boxes],
                               dtype=torch.float32).reshape(-1, 4)
    inst.labels = torch.tensor([b['label'] for b in boxes], dtype=torch.long)
    inst.scores = torch.tensor([b['score'] for b in boxes],
                               dtype=torch.float32)
    sample.pred_instances = inst
    if pred['masks']:
        seg = np.full((h, w), codec.background_index if codec.background_index
                      is not None else 255, np.int64)
        for m in sorted(pred['masks'], key=lambda m: -m['area']):
            seg[mask_utils.decode(dict(m['rle'], counts=m['rle'][
                'counts'].encode('ascii'))).astype(bool)] = m['label']
        sample.pred_sem_seg = PixelData(data=torch.from_numpy(seg)[None])
    sample.questions = [pred['instruction']]
    sample.pred_answers = [pred['text'] if not pred['boxes'] and
                           not pred['masks'] else _summary(pred)]
    sample.gt_answers = [None]
    return sample


def _summary(pred: dict) -> str:
    """The answer's free text and a count of what it holds."""
    parts = [pred['answer']] if pred['answer'] else []
    if pred['boxes']:
        parts.append(f'{len(pred["boxes"])} boxes')
    if pred['masks']:
        parts.append(f'{len(pred["masks"])} masks')
    return ', '.join(parts)
