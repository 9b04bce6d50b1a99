"""COCO instances JSON: the format's rules, checked before mmdet parses it.

mmdet's ``CocoDataset`` trusts the file: an annotation whose ``category_id``
no category declares or whose RLE ``size`` is not its image's is taken
silently, two images sharing an id merge, a file without ``annotations``
reads as "no objects", and two categories sharing an id fail late on an
assertion about the palette. :func:`validate_coco` checks the file once, at
load time, and returns the part that may be parsed.
"""
import math
import os.path as osp
from typing import Any, Callable, Dict, List, Optional, Sequence

from mmengine.logging import print_log

from ..errors import DataError, ErrorPolicy, data_error, file_error
from ..json_files import read_json

# what every entry needs (mmdet reads ``area``; ``segmentation`` and
# ``iscrowd`` are optional for detection-only files)
REQUIRED = dict(
    images=('id', 'file_name', 'width', 'height'),
    annotations=('id', 'image_id', 'category_id', 'bbox', 'area'),
    categories=('id', 'name'))

Report = Callable[[DataError, str], None]  # an ErrorPolicy


def load_coco_json(path: str) -> dict:
    """Read a COCO instances file: a JSON object with the three lists."""
    data = read_json(path, 'annotation file')
    if not isinstance(data, dict):
        raise DataError(f'{path}: expected a COCO instances object '
                        '{"images", "annotations", "categories"}, got a '
                        f'JSON {type(data).__name__}')
    for key in REQUIRED:
        if key not in data:
            raise file_error(path, key, f'missing: a COCO instances file '
                             f'holds "{key}": [...]', 'coco.missing list')
        if not isinstance(data[key], list):
            raise file_error(path, key, 'expected a list, got '
                             f'{type(data[key]).__name__}', 'coco.missing list')
    if not data['images']:
        raise file_error(path, 'images', 'empty: no image to use',
                         'coco.no images')
    return data


def _is_id(value: Any) -> bool:
    return isinstance(value, (int, str)) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(
        value, bool) and math.isfinite(value)


def _missing(entry: Any, part: str) -> Optional[str]:
    """The first required key ``entry`` lacks (``'.'``: not an object)."""
    if not isinstance(entry, dict):
        return '.'
    return next((k for k in REQUIRED[part] if k not in entry), None)


def check_categories(data: dict, file: str,
                     classes: Sequence[str] = ()) -> Dict[Any, str]:
    """``{category id: name}``; raise on a fault (labels would be wrong)."""
    cats: Dict[Any, str] = {}
    names: Dict[str, Any] = {}
    for k, cat in enumerate(data['categories']):
        key = _missing(cat, 'categories')
        if key or not _is_id(cat['id']) or not isinstance(cat['name'], str):
            raise data_error(
                file, f'category {k}', f'categories[].{key or "id"}',
                f'expected {{"id": int, "name": str}}, got {cat!r}',
                'coco.category')
        if cat['id'] in cats:
            raise data_error(
                file, f'category id {cat["id"]}', 'categories[].id',
                f'declared twice ("{cats[cat["id"]]}" and "{cat["name"]}")',
                'coco.duplicate category id')
        if cat['name'] in names:
            raise data_error(
                file, f'category id {cat["id"]}', 'categories[].name',
                f'"{cat["name"]}" is also category id {names[cat["name"]]}',
                'coco.duplicate category name')
        cats[cat['id']] = cat['name']
        names[cat['name']] = cat['id']
    if classes:
        _match_classes(list(names), tuple(classes), file)
    return cats


def _match_classes(names: List[str], classes: tuple, file: str) -> None:
    """Categories and the config's ``classes`` must agree by name.

    A file holding more categories than ``classes`` is mmdet's way to train
    on a subset; names on both sides that do not match are a mistake.
    """
    extra = [n for n in names if n not in classes]
    absent = [c for c in classes if c not in names]
    if extra and absent:
        raise file_error(
            file, 'categories', f'names differ from the config\'s classes: '
            f'only in the file {extra}, only in classes {absent}',
            'coco.categories vs classes')
    if absent:
        shown = absent[:5] + (['...'] if len(absent) > 5 else [])
        print_log(f'{file}: {len(absent)} of the config\'s classes ({shown}) '
                  'have no category in this file; mmdet numbers the labels '
                  'in the file\'s category order', logger='current',
                  level=30)
    elif [n for n in names if n in classes] != list(classes):
        print_log(f'{file}: categories are declared in another order than '
                  'the config\'s classes; mmdet numbers the labels in the '
                  'file\'s order', logger='current', level=30)
    if extra:
        print_log(f'{file}: categories {extra} are not in the config\'s '
                  'classes; their annotations are left out',
                  logger='current', level=20)


def image_problem(img: dict) -> Optional[tuple]:
    """``(field, problem)`` of one ``images[]`` entry, or ``None``."""
    key = _missing(img, 'images')
    if key:
        return f'images[].{key}', 'missing' if key != '.' else \
            f'expected an object, got {type(img).__name__}'
    if not _is_id(img['id']):
        return 'images[].id', f'expected an int, got {img["id"]!r}'
    if not isinstance(img['file_name'], str) or not img['file_name']:
        return 'images[].file_name', f'expected a file name, got ' \
            f'{img["file_name"]!r}'
    for key in ('width', 'height'):
        v = img[key]
        if not isinstance(v, int) or isinstance(v, bool) or v <= 0:
            return f'images[].{key}', f'expected a positive int, got {v!r}'
    return None


def bbox_problem(bbox: Any, img: Optional[dict] = None) -> Optional[str]:
    """Why a COCO ``[x, y, w, h]`` box is unusable, or ``None``."""
    if not isinstance(bbox, (list, tuple)) or len(bbox) != 4:
        return f'expected [x, y, w, h], got {bbox!r}'
    if not all(_is_number(v) for v in bbox):
        return f'non-numeric or non-finite value in {bbox!r}'
    x, y, w, h = bbox
    if w <= 0 or h <= 0:
        return f'non-positive width or height in {list(bbox)!r}'
    if img and (x >= img['width'] or y >= img['height'] or x + w <= 0
                or y + h <= 0):
        return (f'{list(bbox)!r} lies outside the image ({img["width"]}x'
                f'{img["height"]})')
    return None


def _rle_length(counts: str) -> int:
    """Pixels a compressed RLE string covers.

    Decoded as pycocotools' ``rleFrString`` does: its C decoder writes
    without bounds checks, so a string that covers more than ``h * w``
    pixels must be refused before pycocotools sees it.
    """
    total, runs, p = 0, [], 0
    while p < len(counts):
        x, k, more = 0, 0, True
        while more:
            c = ord(counts[p]) - 48
            x |= (c & 0x1f) << (5 * k)
            more = bool(c & 0x20)
            p, k = p + 1, k + 1
            if not more and (c & 0x10):
                x |= -1 << (5 * k)
            if more and p >= len(counts):
                raise ValueError('ends inside a number')
        if len(runs) > 2:
            x += runs[-2]
        if x < 0:
            raise ValueError('negative run length')
        runs.append(x)
        total += x
    return total


def segmentation_problem(seg: Any, img: dict) -> Optional[str]:
    """Why a ``segmentation`` (polygons or RLE) is unusable, or ``None``."""
    if isinstance(seg, list):
        for k, poly in enumerate(seg):
            if not isinstance(poly, list) or not all(
                    _is_number(v) for v in poly):
                return f'polygon {k} is not a list of finite numbers'
            if len(poly) < 6 or len(poly) % 2:
                return (f'polygon {k} has {len(poly)} numbers; a polygon '
                        'needs >= 3 (x, y) points')
        return None
    if not isinstance(seg, dict):
        return f'expected polygons or RLE, got {type(seg).__name__}'
    size, counts = seg.get('size'), seg.get('counts')
    hw = [img['height'], img['width']]
    if size != hw:
        return (f'RLE size {size!r} is not the image\'s [height, width] '
                f'{hw}')
    if isinstance(counts, list):
        if not all(isinstance(c, int) and c >= 0 for c in counts):
            return 'RLE counts must be non-negative ints'
        n = sum(counts)
    elif isinstance(counts, str):
        try:
            n = _rle_length(counts)
        except (ValueError, IndexError) as e:
            return f'RLE counts is not a valid compressed string ({e})'
    else:
        return (f'RLE counts must be a list of ints or a string, got '
                f'{type(counts).__name__}')
    if n != hw[0] * hw[1]:
        return f'RLE counts cover {n} pixels, the image has {hw[0] * hw[1]}'
    return None


def degenerate_box(ann: dict) -> Optional[str]:
    """Why an otherwise valid annotation has nothing to learn from (a box
    of zero width or height, or zero area), or ``None``.

    COCO stores boxes as non-negative floats, and the real train2017 holds
    such annotations (ids 918 and 2206849); mmdet's ``CocoDataset`` leaves
    them out without a word. They are valid by the format, so they never
    stop a run: they are left out and counted in the log.
    """
    bbox, area = ann.get('bbox'), ann.get('area')
    if not (isinstance(bbox, (list, tuple)) and len(bbox) == 4
            and all(_is_number(v) for v in bbox) and _is_number(area)):
        return None
    if min(bbox[2], bbox[3], area) < 0:
        return None  # negative: a fault
    if bbox[2] == 0 or bbox[3] == 0 or area == 0:
        return (f'zero width, height or area ({list(bbox)!r}, area '
                f'{area!r}): left out, as mmdet does')
    return None


def annotation_problem(ann: dict, img: dict,
                       cats: Dict[Any, str]) -> Optional[tuple]:
    """``(field, problem)`` of an annotation of a declared image."""
    if not _is_id(ann['id']):
        return 'id', f'expected an int, got {ann["id"]!r}'
    if not _is_id(ann['category_id']) or ann['category_id'] not in cats:
        return 'category_id', (f'{ann["category_id"]!r} is not a declared '
                               f'category id ({sorted(cats, key=str)})')
    problem = bbox_problem(ann['bbox'], img)
    if problem:
        return 'bbox', problem
    if not _is_number(ann['area']) or ann['area'] <= 0:
        return 'area', f'expected a positive number, got {ann["area"]!r}'
    if ann.get('iscrowd', 0) not in (0, 1) or isinstance(
            ann.get('iscrowd'), (float, str)):
        return 'iscrowd', f'expected 0 or 1, got {ann["iscrowd"]!r}'
    seg = ann.get('segmentation')
    if seg:  # absent or empty: a detection-only annotation
        problem = segmentation_problem(seg, img)
        if problem:
            return 'segmentation', problem
    return None


def validate_coco(data: dict, file: str, report: Report,
                  classes: Sequence[str] = ()) -> dict:
    """Check a COCO instances object; return it without the bad entries.

    Faults that leave no sound reading of the file (duplicate image or
    category ids, categories not matching ``classes``) raise a
    :class:`DataError`; a bad image or annotation goes to ``report``
    (an :class:`~llava_detseg.datasets.errors.ErrorPolicy`: raise, or count
    the skip as ``'image'`` / ``'annotation'``).

    Args:
        data (dict): What :func:`load_coco_json` read.
        file (str): Its path, for the messages.
        report (callable): ``report(error, what)``.
        classes (Sequence[str]): The config's class names; empty: any.
    """
    cats = check_categories(data, file, classes)
    degenerate = ErrorPolicy('skip', owner=f'COCO ({osp.basename(file)})')
    images: Dict[Any, dict] = {}
    dropped = set()  # images skipped, whose annotations go with them
    for k, img in enumerate(data['images']):
        if isinstance(img, dict) and _is_id(img.get('id')) and \
                img['id'] in images:
            raise data_error(
                file, f'image id {img["id"]!r}', 'images[].id',
                f'declared twice ("{images[img["id"]]["file_name"]}" and '
                f'"{img.get("file_name")}")', 'coco.duplicate image id')
        fault = image_problem(img)
        if fault:
            what = (f'image id {img.get("id")!r} "{img.get("file_name")}"'
                    if isinstance(img, dict) else f'images[{k}]')
            report(data_error(file, what, fault[0], fault[1],
                              f'coco.{fault[0]}'), 'image')
            if isinstance(img, dict) and _is_id(img.get('id')):
                dropped.add(img['id'])
            continue
        images[img['id']] = img
    anns, ann_ids = [], set()
    for k, ann in enumerate(data['annotations']):
        key = _missing(ann, 'annotations')
        what = f'annotation id {ann.get("id")!r}' if isinstance(
            ann, dict) else f'annotations[{k}]'
        if key:
            report(data_error(file, what, key, 'missing' if key != '.' else
                              'expected an object', 'coco.missing key'),
                   'annotation')
            continue
        img = images.get(ann['image_id']) if _is_id(ann['image_id']) \
            else None
        if img is None:
            if _is_id(ann['image_id']) and ann['image_id'] in dropped:
                continue  # counted with its image
            report(data_error(file, what, 'image_id',
                              f'{ann["image_id"]!r} is not a declared image '
                              'id', 'coco.image_id'), 'annotation')
            continue
        what = f'image id {img["id"]!r} "{img["file_name"]}", {what}'
        fault = annotation_problem(ann, img, cats)
        if fault and fault[0] in ('bbox', 'area') and degenerate_box(ann):
            # valid but empty: always left out, counted (never raised)
            degenerate(data_error(file, what, fault[0], degenerate_box(ann),
                                  'coco.degenerate box'), 'annotation')
            continue
        if not fault and ann['id'] in ann_ids:
            fault = 'id', 'declared twice'
        if fault:
            report(data_error(file, what, fault[0], fault[1],
                              f'coco.{fault[0]}'), 'annotation')
            continue
        ann_ids.add(ann['id'])
        anns.append(ann)
    return dict(data, images=list(images.values()), annotations=anns)
