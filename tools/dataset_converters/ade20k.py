"""Check (and optionally unpack) ADE20K in the ADEChallengeData2016 layout.

ADEChallengeData2016 is already in mmseg's format: ``images/{training,
validation}/*.jpg`` and ``annotations/{training,validation}/*.png`` with 0 =
"other" and 1..150 the classes (``reduce_zero_label`` shifts them at load
time). This tool unpacks the official zip if asked, then checks that every
image has its map, that the maps are single-channel and that no label
exceeds 150, printing counts per split; it writes nothing else.

Example:
    python tools/dataset_converters/ade20k.py data/ade/ADEChallengeData2016
    python tools/dataset_converters/ade20k.py data/ade/ADEChallengeData2016 \\
        --zip ~/Downloads/ADEChallengeData2016.zip
"""
import argparse
import os.path as osp
import sys
import zipfile
from typing import List, Optional

import numpy as np

SPLITS = ('training', 'validation')
NUM_CLASSES = 150


def parse_args(argv: Optional[list] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Check the ADEChallengeData2016 tree (150 classes)')
    parser.add_argument('root', help='the ADEChallengeData2016 folder')
    parser.add_argument('--zip', help='unpack this ADEChallengeData2016.zip '
                        'into the parent of root first')
    parser.add_argument('--labels', choices=['all', 'none'], default='all',
                        help='read every map to check its labels (all) or '
                        'only check that files pair up (none)')
    parser.add_argument('--no-progress', action='store_true')
    return parser.parse_args(argv)


def check_split(root: str, split: str, read_labels: bool = True,
                progress: bool = True) -> List[str]:
    """Problems of one split, each naming its file; ``[]`` when fine."""
    import mmcv
    import mmengine
    img_dir = osp.join(root, 'images', split)
    ann_dir = osp.join(root, 'annotations', split)
    for d in (img_dir, ann_dir):
        if not osp.isdir(d):
            return [f'{d}: folder not found']
    stems = sorted(osp.splitext(f)[0] for f in mmengine.list_dir_or_file(
        img_dir, list_dir=False, suffix='.jpg'))
    maps = set(osp.splitext(f)[0] for f in mmengine.list_dir_or_file(
        ann_dir, list_dir=False, suffix='.png'))
    problems = [f'{osp.join(img_dir, s)}.jpg: no map {s}.png in {ann_dir}'
                for s in stems if s not in maps]
    problems += [f'{osp.join(ann_dir, s)}.png: no image {s}.jpg in {img_dir}'
                 for s in sorted(maps - set(stems))]
    if not stems:
        problems.append(f'{img_dir}: no .jpg images')
    if read_labels:
        pairs = [s for s in stems if s in maps]
        it = mmengine.track_iter_progress(pairs) if progress and pairs \
            else pairs
        for s in it:
            path = osp.join(ann_dir, s + '.png')
            seg = mmcv.imread(path, flag='unchanged', backend='pillow')
            if seg is None or seg.ndim != 2:
                problems.append(f'{path}: expected a single-channel label '
                                'map')
            elif int(np.max(seg)) > NUM_CLASSES:
                problems.append(f'{path}: label {int(np.max(seg))} > '
                                f'{NUM_CLASSES}')
    return problems


def main(argv: Optional[list] = None) -> int:
    args = parse_args(argv)
    if args.zip:
        if not osp.isfile(args.zip):
            print(f'error: {args.zip}: zip file not found', file=sys.stderr)
            return 2
        with zipfile.ZipFile(args.zip) as z:
            z.extractall(osp.dirname(osp.abspath(args.root)))
    if not osp.isdir(args.root):
        print(f'error: {args.root}: folder not found', file=sys.stderr)
        return 2
    problems = []
    for split in SPLITS:
        found = check_split(args.root, split, args.labels == 'all',
                            not args.no_progress)
        problems += found
        n = len([f for f in _list(osp.join(args.root, 'images', split))])
        print(f'{split}: {n} images, {len(found)} problem(s)')
    for p in problems[:50]:
        print(f'error: {p}', file=sys.stderr)
    if len(problems) > 50:
        print(f'error: ... and {len(problems) - 50} more', file=sys.stderr)
    return 1 if problems else 0


def _list(folder: str) -> list:
    import mmengine
    if not osp.isdir(folder):
        return []
    return list(mmengine.list_dir_or_file(folder, list_dir=False,
                                          suffix='.jpg'))


if __name__ == '__main__':
    sys.exit(main())
