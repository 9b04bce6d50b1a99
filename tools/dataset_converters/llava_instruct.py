"""Validate and reshape LLaVA-Instruct conversations for this project.

The project reads the LLaVA format itself (``LlavaInstructDataset``; and
``CocoFormatMultiTaskDataset(conv_file=...)``, which joins conversations to COCO
images by file name). This tool checks every entry as those readers do
(turn order, one ``<image>`` in the first question, the image file), writes
the usable entries, and reports the rest by entry and field. Options select
the COCO part of llava_v1_5_mix665k and strip its ``coco/train2017/`` prefix
so it joins with COCO, drop text-only entries, and split off a held-out set.

Examples:
    # LLaVA-Instruct-150K, images are COCO train2017 file names
    python tools/dataset_converters/llava_instruct.py \\
        data/llava/llava_instruct_150k.json \\
        data/llava/llava_instruct_150k_train.json \\
        --image-root data/coco/train2017 \\
        --val-size 1000 --val-out data/llava/llava_instruct_150k_val.json
    # the COCO part of mix665k, joinable with instances_train2017.json
    python tools/dataset_converters/llava_instruct.py \\
        data/llava/llava_v1_5_mix665k.json data/llava/mix665k_coco.json \\
        --only-prefix coco/train2017/ --strip-prefix coco/train2017/
"""
import argparse
import json
import os
import os.path as osp
import random
import sys
from collections import Counter
from typing import List, Optional, Tuple

try:
    import llava_detseg  # noqa: F401
except ImportError:
    sys.path.insert(
        0, osp.join(osp.dirname(osp.abspath(__file__)), '..', '..',
                    'projects'))

from llava_detseg.datasets.errors import DataError  # noqa: E402
from llava_detseg.datasets.llava_instruct import load_llava_json  # noqa
from llava_detseg.datasets.validation import \
    conversation_problem  # noqa: E402


def parse_args(argv: Optional[list] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Validate / select / split LLaVA-format conversations')
    parser.add_argument('in_file', help='LLaVA JSON (list of entries)')
    parser.add_argument('out_file', help='where the usable entries go')
    parser.add_argument('--image-root', help='check that <image-root>/<image>'
                        ' exists (after --strip-prefix)')
    parser.add_argument('--only-prefix', help='keep entries whose image path '
                        'starts with this (e.g. coco/train2017/)')
    parser.add_argument('--strip-prefix', help='remove this prefix from the '
                        'image paths, e.g. to join with COCO by file name')
    parser.add_argument('--text-only', choices=['skip', 'raise'],
                        default='skip', help='entries without an image')
    parser.add_argument('--strict', action='store_true',
                        help='fail (exit 1) on the first bad entry instead '
                        'of leaving it out')
    parser.add_argument('--val-size', type=int, default=0,
                        help='move this many images\' entries to --val-out')
    parser.add_argument('--val-out', help='file for the held-out entries')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--no-progress', action='store_true')
    return parser.parse_args(argv)


def convert(entries: list, args: argparse.Namespace,
            source: str) -> Tuple[list, List[str], Counter]:
    """``(kept entries, problems, counts)``; raises DataError if strict."""
    import mmengine
    kept, problems, counts = [], [], Counter()
    it = entries if args.no_progress or not entries else \
        mmengine.track_iter_progress(entries)
    for k, entry in enumerate(it):
        sample = f'entry {k} (id {entry.get("id")!r})' if isinstance(
            entry, dict) else f'entry {k}'
        if isinstance(entry, dict) and 'image' not in entry:
            if args.text_only == 'raise':
                raise DataError(f'{source}: {sample}, field "image": '
                                'text-only entry')
            counts['text-only'] += 1
            continue
        problem, field = conversation_problem(entry)
        image = entry.get('image') if isinstance(entry, dict) else None
        if not problem and args.only_prefix and \
                not image.startswith(args.only_prefix):
            counts['other source'] += 1
            continue
        if not problem and args.strip_prefix and \
                image.startswith(args.strip_prefix):
            image = image[len(args.strip_prefix):]
        if not problem and args.image_root and \
                not osp.isfile(osp.join(args.image_root, image)):
            problem, field = (f'image file {osp.join(args.image_root, image)}'
                              ' does not exist'), 'image'
        if problem:
            msg = f'{source}: {sample}, field "{field}": {problem}'
            if args.strict:
                raise DataError(msg)
            problems.append(msg)
            counts['bad'] += 1
            continue
        kept.append(dict(entry, image=image))
        counts['kept'] += 1
    return kept, problems, counts


def split_val(entries: list, size: int, seed: int) -> Tuple[list, list]:
    """Hold out every entry of ``size`` random images."""
    images = sorted({e['image'] for e in entries})
    if size > len(images):
        raise DataError(f'--val-size {size} exceeds the {len(images)} images')
    held = set(random.Random(seed).sample(images, size))
    return ([e for e in entries if e['image'] not in held],
            [e for e in entries if e['image'] in held])


def _write(path: str, entries: list) -> None:
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    with open(path, 'w', encoding='utf-8') as f:
        json.dump(entries, f, ensure_ascii=False)


def main(argv: Optional[list] = None) -> int:
    args = parse_args(argv)
    if args.val_size and not args.val_out:
        print('error: --val-size needs --val-out', file=sys.stderr)
        return 2
    try:
        entries = load_llava_json(args.in_file)
        kept, problems, counts = convert(entries, args, args.in_file)
        val = []
        if args.val_size:
            kept, val = split_val(kept, args.val_size, args.seed)
    except DataError as e:
        print(f'error: {e}', file=sys.stderr)
        return 1
    for p in problems[:20]:
        print(f'left out: {p}', file=sys.stderr)
    if len(problems) > 20:
        print(f'left out: ... and {len(problems) - 20} more',
              file=sys.stderr)
    _write(args.out_file, kept)
    if args.val_size:
        _write(args.val_out, val)
    print(f'{args.in_file}: {len(entries)} entries; ' + ', '.join(
        f'{n} {what}' for what, n in sorted(counts.items())) +
        f'; wrote {len(kept)} to {args.out_file}' +
        (f' and {len(val)} to {args.val_out}' if args.val_size else ''))
    return 0


if __name__ == '__main__':
    sys.exit(main())
