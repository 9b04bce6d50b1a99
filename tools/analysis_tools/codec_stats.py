"""Token cost and round-trip fidelity of the <DET>/<SEG> text format.

Encodes every ground-truth box and semantic map of a COCO-format split with
``DetSegTextCodec``, tokenizes the blocks with a tokenizer that holds the
format's tokens, decodes them back and reports: tokens per box, tokens per
polygon vertex, vertices per polygon, block lengths, the largest box error
in bins and the mIoU of the decoded masks against the ground truth (the
ceiling that text-mIoU can reach with these codec settings).

Example:
    python tools/analysis_tools/codec_stats.py data/shapes \
        --tokenizer data/checkpoints/llava-tiny --out work_dirs/codec_stats.json
"""
import argparse
import json
import os.path as osp
import sys
from collections import defaultdict

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
from _bootstrap import ensure_package  # noqa: E402


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('data_root', help='folder with annotations/, '
                        'semantic/ (the shapes layout)')
    parser.add_argument('--split', default='val')
    parser.add_argument('--tokenizer', default=None,
                        help='tokenizer folder (default: the tiny offline '
                        'tokenizer built in memory)')
    parser.add_argument('--max-vertices', type=int, default=32)
    parser.add_argument('--tolerance', type=float, default=1.0)
    parser.add_argument('--max-boxes', type=int, default=100)
    parser.add_argument('--out', help='also write the numbers to this json')
    return parser.parse_args()


def main() -> int:
    args = parse_args()
    ensure_package()
    import cv2
    import numpy as np

    from llava_detseg.models.language import build_tiny_tokenizer
    from llava_detseg.models.language.name_spacing import (space_after_open,
                                                           spacing_helps)
    from llava_detseg.models.language.special_tokens import add_detseg_tokens
    from llava_detseg.structures import DetSegTextCodec

    ann_file = osp.join(args.data_root, 'annotations',
                        f'instances_{args.split}.json')
    if not osp.isfile(ann_file):
        print(f'error: {ann_file} does not exist', file=sys.stderr)
        return 2
    with open(ann_file) as f:
        coco = json.load(f)
    if args.tokenizer:
        from transformers import AutoTokenizer
        tok = AutoTokenizer.from_pretrained(args.tokenizer,
                                            trust_remote_code=False)
    else:
        tok = build_tiny_tokenizer()
    add_detseg_tokens(tok)
    # as the language branch tokenizes (special_tokens.name_spacing='auto')
    spacing = spacing_helps(tok)
    cats = sorted(coco['categories'], key=lambda c: c['id'])
    cat_index = {c['id']: i for i, c in enumerate(cats)}
    codec = DetSegTextCodec([c['name'] for c in cats],
                            max_boxes=args.max_boxes,
                            max_vertices=args.max_vertices,
                            tolerance=args.tolerance)
    anns = defaultdict(list)
    for a in coco['annotations']:
        anns[a['image_id']].append(a)

    def ntok(text: str) -> int:
        if spacing:
            text = space_after_open(text)
        return len(tok(text, add_special_tokens=False).input_ids)

    empty = ntok('<DET></DET>')
    n_box = det_tok = det_item_tok = 0
    n_poly = n_vert = seg_tok = 0
    max_err_bins = 0.0
    inter = np.zeros(len(codec.seg_classes))
    union = np.zeros(len(codec.seg_classes))
    for img in coco['images']:
        h, w = img['height'], img['width']
        boxes = np.array([[x, y, x + bw, y + bh] for x, y, bw, bh in
                          (a['bbox'] for a in anns[img['id']])]).reshape(-1, 4)
        labels = np.array([cat_index[a['category_id']]
                           for a in anns[img['id']]])
        det = codec.encode_det(boxes, labels, (h, w))
        det_tok += ntok(det)
        det_item_tok += ntok(det) - empty
        n_box += len(boxes)
        back = codec.decode(det, (h, w)).bboxes
        if len(boxes):
            err = np.abs(back - boxes) / (np.array([w, h, w, h]) / 1000)
            max_err_bins = max(max_err_bins, float(err.max()))
        sem = cv2.imread(
            osp.join(args.data_root, 'semantic', args.split,
                     osp.splitext(img['file_name'])[0] + '.png'),
            cv2.IMREAD_UNCHANGED)
        seg = codec.encode_seg(sem)
        seg_tok += ntok(seg)
        parsed = codec.decode(seg, (h, w))
        n_poly += len(parsed.polygons)
        n_vert += sum(len(p) for _, p in parsed.polygons)
        out = parsed.render_sem_seg()
        for c in range(1, len(codec.seg_classes)):
            inter[c] += ((out == c) & (sem == c)).sum()
            union[c] += ((out == c) | (sem == c)).sum()
    n_img = len(coco['images'])
    iou = inter[1:] / np.maximum(union[1:], 1)
    stats = dict(
        images=n_img,
        boxes=n_box,
        tokens_per_box=det_item_tok / max(n_box, 1),
        tokens_per_det_block=det_tok / n_img,
        max_box_error_bins=max_err_bins,
        polygons=n_poly,
        vertices_per_polygon=n_vert / max(n_poly, 1),
        tokens_per_vertex=seg_tok / max(n_vert, 1),
        tokens_per_polygon=seg_tok / max(n_poly, 1),
        tokens_per_seg_block=seg_tok / n_img,
        round_trip_miou=float(iou.mean()),
        round_trip_iou={
            n: float(v)
            for n, v in zip(codec.seg_classes[1:], iou)
        },
        name_spacing=spacing,
        codec=repr(codec))
    for k, v in stats.items():
        print(f'{k}: {v:.4f}' if isinstance(v, float) else f'{k}: {v}')
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(stats, f, indent=2)
    return 0


if __name__ == '__main__':
    sys.exit(main())
