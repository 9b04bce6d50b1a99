"""Turn COCO instance annotations into semantic label maps (PNG).

Each pixel gets ``1 + the category's index`` in the file's sorted category
list, 0 where no object is, and 255 (ignored by mmseg's losses and
``IoUMetric``) on crowd regions unless ``--crowd class``. Larger objects are
painted first, so a small object on top of a large one stays visible.
``CocoFormatMultiTaskDataset`` reads the maps with ``data_prefix.seg`` and
``seg_classes = ('background', *classes)`` (its default).

Example:
    python tools/dataset_converters/coco_semantic.py \\
        data/coco/annotations/instances_val2017.json \\
        data/coco/semantic/val2017
"""
import argparse
import os
import os.path as osp
import sys
from typing import Optional

import numpy as np

IGNORE = 255


def parse_args(argv: Optional[list] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='COCO instances -> semantic label PNGs (0 background, '
        '1..N categories, 255 crowd)')
    parser.add_argument('ann_file', help='COCO instances JSON')
    parser.add_argument('out_dir', help='folder for <image stem>.png maps')
    parser.add_argument(
        '--crowd', choices=['ignore', 'class'], default='ignore',
        help='crowd regions as 255 (ignore, default) or as their class')
    parser.add_argument('--nproc', type=int, default=1,
                        help='worker processes')
    parser.add_argument('--no-progress', action='store_true')
    return parser.parse_args(argv)


def semantic_map(coco, img_id: int, label_of: dict,
                 crowd: str = 'ignore') -> np.ndarray:
    """The (H, W) uint8 label map of one image (``annToMask`` per object)."""
    img = coco.imgs[img_id]
    out = np.zeros((img['height'], img['width']), dtype=np.uint8)
    anns = coco.loadAnns(coco.getAnnIds(imgIds=[img_id], iscrowd=None))
    for ann in sorted(anns, key=lambda a: -a.get('area', 0)):
        if not ann.get('segmentation'):
            continue
        try:
            mask = coco.annToMask(ann).astype(bool)
        except Exception as e:  # noqa: BLE001 - name the broken annotation
            raise ValueError(
                f'image id {img_id} "{img["file_name"]}", annotation id '
                f'{ann.get("id")}, field "segmentation": cannot decode '
                f'({type(e).__name__}: {e})') from None
        if ann.get('iscrowd') and crowd == 'ignore':
            out[mask] = IGNORE
        else:
            out[mask] = label_of[ann['category_id']]
    return out


_STATE: dict = {}


def _convert_one(img_id: int) -> None:
    import mmcv
    coco, label_of, out_dir, crowd = (_STATE[k] for k in
                                      ('coco', 'label_of', 'out', 'crowd'))
    name = osp.splitext(coco.imgs[img_id]['file_name'])[0] + '.png'
    path = osp.join(out_dir, name)
    os.makedirs(osp.dirname(path), exist_ok=True)
    mmcv.imwrite(semantic_map(coco, img_id, label_of, crowd), path)


def main(argv: Optional[list] = None) -> int:
    args = parse_args(argv)
    if not osp.isfile(args.ann_file):
        print(f'error: {args.ann_file}: annotation file not found',
              file=sys.stderr)
        return 2
    import mmengine
    from pycocotools.coco import COCO
    coco = COCO(args.ann_file)
    cats = sorted(coco.getCatIds())
    if len(cats) > 254:
        print(f'error: {args.ann_file}: {len(cats)} categories do not fit '
              'a uint8 map with 255 as ignore', file=sys.stderr)
        return 2
    _STATE.update(coco=coco, label_of={c: i + 1 for i, c in enumerate(cats)},
                  out=args.out_dir, crowd=args.crowd)
    os.makedirs(args.out_dir, exist_ok=True)
    ids = sorted(coco.getImgIds())
    try:
        if args.no_progress:
            for i in ids:
                _convert_one(i)
        elif args.nproc > 1:
            mmengine.track_parallel_progress(_convert_one, ids, args.nproc)
        else:
            mmengine.track_progress(_convert_one, ids)
    except ValueError as e:
        print(f'error: {args.ann_file}: {e}', file=sys.stderr)
        return 1
    print(f'wrote {len(ids)} maps ({len(cats)} classes + background) to '
          f'{args.out_dir}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
