"""Grounded text answers broken down by the length of their context.

A grounded answer reads the heads' boxes from its prompt; a language model
trained on shorter contexts than the heads write at test time decides worse
on the long ones. This tool takes ``tools/test.py --out preds.pkl`` of a
text config and prints, per bucket of context sizes (the number of boxes in
the prompt's ``<DET>`` block), the ``det_class`` answers ("Detect only the
circles.") that hold only the asked class (``only_class_purity`` of
``TextDetSegMetric``) and the share of the context's classes that
``det_all`` answers keep.

Example:
    python tools/test.py CONFIG CKPT --out work_dirs/preds.pkl
    python tools/analysis_tools/text_answers_by_context.py CONFIG \
        work_dirs/preds.pkl --bucket 5
"""
import argparse
import os.path as osp
import pickle
import sys
from collections import defaultdict

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
from _bootstrap import ensure_package  # noqa: E402


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='the text config (its model.text_cfg '
                        'gives the codec)')
    parser.add_argument('preds', help='predictions from tools/test.py --out')
    parser.add_argument('--bucket', type=int, default=5,
                        help='context sizes per row (default 5)')
    return parser.parse_args()


def main() -> int:
    args = parse_args()
    ensure_package()
    from mmengine.config import Config

    from llava_detseg.models.language.constrained_decoding import \
        context_items
    from llava_detseg.structures import DetSegTextCodec

    if args.bucket < 1:
        print(f'error: --bucket must be >= 1, got {args.bucket}',
              file=sys.stderr)
        return 2
    if not osp.isfile(args.preds):
        print(f'error: {args.preds} does not exist (make it with '
              'tools/test.py CONFIG CKPT --out PREDS.pkl)', file=sys.stderr)
        return 2
    text_cfg = Config.fromfile(args.config).model.get('text_cfg')
    if not text_cfg:
        print(f'error: {args.config} has no model.text_cfg', file=sys.stderr)
        return 2
    codec = DetSegTextCodec(text_cfg['classes'], text_cfg.get('seg_classes'),
                            **(text_cfg.get('codec') or {}))
    with open(args.preds, 'rb') as f:
        preds = pickle.load(f)
    # bucket -> [det_class answers, pure ones, det_all context classes, kept]
    rows = defaultdict(lambda: [0, 0, 0, 0])
    for i, s in enumerate(preds):
        need = ('text_conversations', 'pred_texts', 'text_prompts')
        if any(k not in s for k in need):
            print(f'error: {args.preds}, sample {i}: no {"/".join(need)} '
                  '(was it written by tools/test.py --out on a text '
                  'config?)', file=sys.stderr)
            return 2
        shape = tuple(s['ori_shape'][:2])
        for item, text, prompt in zip(s['text_conversations'],
                                      s['pred_texts'], s['text_prompts']):
            if item['kind'] not in ('det_class', 'det_all'):
                continue
            ctx = context_items(prompt).get('det', [])
            row = rows[len(ctx) // args.bucket]
            parsed = codec.decode(text, shape)
            got = set(parsed.labels.tolist()) if parsed.has_det else set()
            if item['kind'] == 'det_class':
                row[0] += 1
                row[1] += int(parsed.ok and parsed.has_det
                              and got <= set(item['det']))
            else:
                names = {t.split('<', 1)[0].strip() for t in ctx}
                wanted = {codec.classes.index(n) for n in names
                          if n in codec.classes}
                row[2] += len(wanted)
                row[3] += len(wanted & got)
    print('| context boxes | "only {class}" answers | purity | "detect all" '
          'context classes | kept |')
    print('|---|---|---|---|---|')
    for b in sorted(rows):
        n, pure, classes, kept = rows[b]
        lo, hi = b * args.bucket, (b + 1) * args.bucket - 1
        span = str(lo) if lo == hi else f'{lo}-{hi}'
        purity = f'{pure / n:.3f}' if n else '-'
        share = f'{kept / classes:.3f}' if classes else '-'
        print(f'| {span} | {n} | {purity} | {classes} | {share} |')
    return 0


if __name__ == '__main__':
    sys.exit(main())
