"""Build a corpus of one-fault datasets from one valid small dataset.

The base is written here with Pillow and pycocotools, in the layout of the
standard formats (not by the project's shapes generator): 4 JPEG images,
COCO instances with polygons and one compressed-RLE crowd region,
single-channel PNG semantic maps (0 = background, class index + 1) and
LLaVA conversations, on the classes ``circle``, ``square``, ``triangle`` of
the embedded default config. Each case is a copy of it with one fault, and
states the outcome the tools must give (``tools/misc/run_fault_corpus.py``
checks them; ``tests/tools/test_fault_corpus.py`` runs that in CI):

* ``error``: ``tools/test.py`` / ``tools/train.py`` print one line naming
  ``names`` (the faulty file) and exit 1;
* ``skip``: training with ``on_error='skip'`` completes and logs the skip.

``tools/test.py`` always runs with ``on_error='raise'`` (an evaluation must
not leave samples out silently); ``mode`` is the training's ``on_error``.

Example:
    python tools/misc/make_fault_corpus.py work_dirs/fault_corpus
"""
import argparse
import json
import os
import os.path as osp
import shutil
import sys
from dataclasses import dataclass
from typing import Callable, List

import numpy as np

CLASSES = ('circle', 'square', 'triangle')
CATS = [dict(id=k + 1, name=n) for k, n in enumerate(CLASSES)]
SIZES = [(80, 64), (72, 64), (80, 56), (64, 64)]  # (w, h); img1 not square
ANN, CONV = 'annotations/instances.json', 'annotations/llava.json'


@dataclass
class Case:
    """One fault: ``apply(root)`` damages a copy of the base dataset."""
    name: str
    kind: str  # images | coco | semantic | conversations
    apply: Callable[[str], None]
    names: str  # the file the error line must name
    mode: str = 'raise'  # the training's on_error
    train: str = 'error'  # expected outcome of tools/train.py
    test: str = 'error'  # ... and of tools/test.py
    options: tuple = ()  # extra --cfg-options of both runs


# ---------------------------------------------------------------- the base
def write_base(root: str, seed: int = 0) -> None:
    """The valid dataset every case starts from."""
    from PIL import Image, ImageDraw
    from pycocotools import mask as mask_utils
    rng = np.random.default_rng(seed)
    for sub in ('images', 'semantic', 'annotations'):
        os.makedirs(osp.join(root, sub), exist_ok=True)
    images, anns, convs = [], [], []
    for k, (w, h) in enumerate(SIZES):
        img = Image.new('RGB', (w, h), (90, 90, 90))
        sem = Image.new('L', (w, h), 0)
        draw, sdraw = ImageDraw.Draw(img), ImageDraw.Draw(sem)
        for c, cat in enumerate(CATS[:2 + k % 2]):
            x0, y0 = int(rng.integers(0, w - 24)), int(rng.integers(0, h - 24))
            poly = [x0, y0, x0 + 20, y0, x0 + 20, y0 + 20, x0, y0 + 20] \
                if c != 2 else [x0, y0 + 20, x0 + 10, y0, x0 + 20, y0 + 20]
            xy = list(zip(poly[::2], poly[1::2]))
            draw.polygon(xy, fill=(200, 40 + 60 * c, 40))
            sdraw.polygon(xy, fill=cat['id'])
            anns.append(dict(
                id=len(anns) + 1, image_id=100 + k, category_id=cat['id'],
                bbox=[x0, y0, 20, 20], area=400.0 if c != 2 else 200.0,
                iscrowd=0, segmentation=[[float(v) for v in poly]]))
        if k == 0:  # a crowd region as compressed RLE, as COCO stores them
            crowd = np.zeros((h, w), dtype=np.uint8, order='F')
            crowd[h - 8:, :16] = 1
            rle = mask_utils.encode(crowd)
            rle['counts'] = rle['counts'].decode()
            anns.append(dict(id=len(anns) + 1, image_id=100, category_id=1,
                             bbox=[0, h - 8, 16, 8], area=128.0, iscrowd=1,
                             segmentation=rle))
        name = f'img{k}.jpg'
        img.save(osp.join(root, 'images', name), quality=92)
        sem.save(osp.join(root, 'semantic', f'img{k}.png'))
        images.append(dict(id=100 + k, file_name=name, width=w, height=h))
        convs.append(dict(id=f'q{k}', image=name, conversations=[
            {'from': 'human', 'value': '<image>\nHow many shapes are there?'},
            {'from': 'gpt', 'value': str(2 + k % 2)}]))
    _dump(osp.join(root, ANN),
          dict(images=images, annotations=anns, categories=CATS))
    _dump(osp.join(root, CONV), convs)


def _dump(path: str, obj) -> None:
    with open(path, 'w') as f:
        json.dump(obj, f)


# ------------------------------------------------------- how faults are made
def edit_json(rel: str, edit: Callable) -> Callable[[str], None]:
    """A fault that edits a JSON file (``edit`` changes it in place)."""
    def apply(root: str) -> None:
        path = osp.join(root, rel)
        with open(path) as f:
            data = json.load(f)
        edit(data)
        _dump(path, data)
    return apply


def coco(edit: Callable) -> Callable[[str], None]:
    return edit_json(ANN, edit)


def conv(edit: Callable) -> Callable[[str], None]:
    return edit_json(CONV, edit)


def write_bytes(rel: str, data=None, keep: float = None) -> Callable:
    """Replace a file by ``data``, or keep its first ``keep`` fraction."""
    def apply(root: str) -> None:
        path = osp.join(root, rel)
        if keep is not None:
            with open(path, 'rb') as f:
                data_ = f.read()
            data_ = data_[:int(len(data_) * keep)]
        else:
            data_ = data
        with open(path, 'wb') as f:
            f.write(data_)
    return apply


def remove(rel: str) -> Callable[[str], None]:
    return lambda root: os.remove(osp.join(root, rel))


def resave_map(rel: str, change: Callable) -> Callable[[str], None]:
    """Rewrite a semantic map: ``change(labels) -> PIL image``."""
    def apply(root: str) -> None:
        from PIL import Image
        path = osp.join(root, rel)
        labels = np.asarray(Image.open(path)).copy()
        change(labels).save(path)
    return apply


def resave_image(rel: str, size) -> Callable[[str], None]:
    def apply(root: str) -> None:
        from PIL import Image
        path = osp.join(root, rel)
        Image.open(path).convert('RGB').resize(size).save(path, quality=92)
    return apply


def replace_by_dir(rel: str) -> Callable[[str], None]:
    def apply(root: str) -> None:
        os.remove(osp.join(root, rel))
        os.makedirs(osp.join(root, rel))
    return apply


def _ann(k: int = 1, **fields) -> Callable[[dict], None]:
    """Set fields of annotation ``k`` (``None`` deletes the field)."""
    def edit(d: dict) -> None:
        for key, value in fields.items():
            if value is None:
                d['annotations'][k].pop(key)
            else:
                d['annotations'][k][key] = value
    return edit


def _img(k: int = 1, **fields) -> Callable[[dict], None]:
    def edit(d: dict) -> None:
        for key, value in fields.items():
            if value is None:
                d['images'][k].pop(key)
            else:
                d['images'][k][key] = value
    return edit


def _rle(edit: Callable[[dict], None]) -> Callable[[dict], None]:
    """Edit the crowd annotation's RLE."""
    def apply(d: dict) -> None:
        crowd = next(a for a in d['annotations'] if a['iscrowd'])
        edit(crowd['segmentation'])
    return apply


def _rle_too_long(seg: dict) -> None:
    from pycocotools import mask as mask_utils
    h, w = seg['size']
    big = np.zeros((h, w + 3), dtype=np.uint8, order='F')
    big[h - 8:, :16] = 1
    seg['counts'] = mask_utils.encode(big)['counts'].decode()


def _label(value: int, dtype=np.uint8, mode: str = None) -> Callable:
    def change(labels: np.ndarray):
        from PIL import Image
        labels = labels.astype(dtype)
        labels[:4, :4] = value
        return Image.fromarray(labels, mode) if mode else \
            Image.fromarray(labels)
    return change


def _set(key, value):
    return lambda d: d.__setitem__(key, value)


def _turn(e: int, t: int, **fields) -> Callable[[list], None]:
    def edit(d: list) -> None:
        for key, value in fields.items():
            if value is None:
                d[e]['conversations'][t].pop(key)
            else:
                d[e]['conversations'][t][key] = value
    return edit


# ----------------------------------------------------------------- the cases
IMG1, MAP1 = 'images/img1.jpg', 'semantic/img1.png'
J, L = 'instances.json', 'llava.json'


def cases() -> List[Case]:
    """Every case of the corpus."""
    from PIL import Image
    html = b'<!DOCTYPE html><html><body>404 Not Found</body></html>'
    c = [
        # images
        Case('image_missing', 'images', remove(IMG1), 'img1.jpg'),
        Case('image_truncated', 'images', write_bytes(IMG1, keep=0.5),
             'img1.jpg'),
        Case('image_empty_file', 'images', write_bytes(IMG1, b''),
             'img1.jpg'),
        Case('image_not_an_image', 'images', write_bytes(IMG1, html),
             'img1.jpg'),
        Case('image_is_a_folder', 'images', replace_by_dir(IMG1), 'img1.jpg'),
        Case('image_other_size', 'images', resave_image(IMG1, (36, 32)),
             'img1.jpg'),
        Case('image_rotated', 'images', resave_image(IMG1, (64, 72)),
             'img1.jpg'),
        Case('image_truncated_skip', 'images', write_bytes(IMG1, keep=0.5),
             'img1.jpg', mode='skip', train='skip'),
        Case('image_missing_skip', 'images', remove(IMG1), 'img1.jpg',
             mode='skip', train='skip'),
        # a DataLoader worker re-raises with the worker's traceback in the
        # message: still one line
        Case('image_truncated_in_worker', 'images',
             write_bytes(IMG1, keep=0.5), 'img1.jpg', options=(
                 'train_dataloader.num_workers=1',
                 'test_dataloader.num_workers=1')),
        Case('image_other_size_skip', 'images',
             resave_image(IMG1, (36, 32)), 'img1.jpg', mode='skip',
             train='skip'),
        # COCO JSON: the file
        Case('json_empty_file', 'coco', write_bytes(ANN, b''), J),
        Case('json_truncated', 'coco', write_bytes(ANN, keep=0.6), J),
        Case('json_not_utf8', 'coco', write_bytes(ANN, b'{"images": "\xff"}'),
             J),
        Case('json_a_list', 'coco', write_bytes(ANN, b'[]'), J),
        Case('json_no_annotations', 'coco',
             coco(lambda d: d.pop('annotations')), J),
        Case('json_no_images', 'coco', coco(lambda d: d.pop('images')), J),
        Case('json_no_categories', 'coco',
             coco(lambda d: d.pop('categories')), J),
        Case('json_images_not_a_list', 'coco', coco(_set('images', {})), J),
        Case('json_no_image_entries', 'coco', coco(_set('images', [])), J),
        Case('json_no_annotations_skip', 'coco',
             coco(lambda d: d.pop('annotations')), J, mode='skip'),
        # COCO JSON: ids
        Case('image_id_twice', 'coco', coco(_img(1, id=100)), J),
        Case('image_id_twice_skip', 'coco', coco(_img(1, id=100)), J,
             mode='skip'),
        Case('category_id_twice', 'coco', coco(
            lambda d: d['categories'][1].update(id=1)), J),
        Case('category_name_twice', 'coco', coco(
            lambda d: d['categories'][2].update(name='circle')), J),
        Case('category_name_not_in_classes', 'coco', coco(
            lambda d: d['categories'][1].update(name='sqaure')), J),
        Case('category_name_not_in_classes_skip', 'coco', coco(
            lambda d: d['categories'][1].update(name='sqaure')), J,
             mode='skip'),
        Case('category_without_name', 'coco', coco(
            lambda d: d['categories'][0].pop('name')), J),
        Case('annotation_id_twice', 'coco', coco(_ann(1, id=1)), J),
        Case('category_id_undeclared', 'coco', coco(_ann(1, category_id=9)),
             J),
        Case('category_id_undeclared_skip', 'coco',
             coco(_ann(1, category_id=9)), J, mode='skip', train='skip'),
        Case('image_id_undeclared', 'coco', coco(_ann(1, image_id=999)), J),
        Case('image_id_as_string', 'coco', coco(_ann(1, image_id='100')),
             J),
        # COCO JSON: image entries
        Case('image_without_width', 'coco', coco(_img(1, width=None)), J),
        Case('image_width_a_string', 'coco', coco(_img(1, width='72')), J),
        Case('image_height_zero', 'coco', coco(_img(1, height=0)), J),
        Case('image_without_file_name', 'coco',
             coco(_img(1, file_name=None)), J),
        Case('image_without_width_skip', 'coco', coco(_img(1, width=None)),
             J, mode='skip', train='skip'),
        # COCO JSON: annotation entries
        Case('annotation_not_an_object', 'coco', coco(
            lambda d: d['annotations'].append('person')), J),
        Case('annotation_without_category_id', 'coco',
             coco(_ann(1, category_id=None)), J),
        Case('bbox_missing', 'coco', coco(_ann(1, bbox=None)), J),
        Case('bbox_nan', 'coco', coco(_ann(1, bbox=[5, 5, float('nan'), 9])),
             J),
        Case('bbox_infinite', 'coco',
             coco(_ann(1, bbox=[5, 5, 9, float('inf')])), J),
        Case('bbox_strings', 'coco', coco(_ann(1, bbox=['5', '5', '9', '9'])),
             J),
        Case('bbox_three_numbers', 'coco', coco(_ann(1, bbox=[5, 5, 9])), J),
        Case('bbox_negative_width', 'coco', coco(_ann(1, bbox=[5, 5, -9, 9])),
             J),
        Case('bbox_outside_image', 'coco',
             coco(_ann(1, bbox=[500, 5, 9, 9])), J),
        Case('bbox_nan_skip', 'coco',
             coco(_ann(1, bbox=[5, 5, float('nan'), 9])), J, mode='skip',
             train='skip'),
        Case('area_missing', 'coco', coco(_ann(1, area=None)), J),
        # zero size is valid COCO (real train2017 has it): left out, counted
        Case('area_zero', 'coco', coco(_ann(1, area=0)), J, train='skip',
             test='skip'),
        Case('bbox_zero_height', 'coco', coco(_ann(1, bbox=[5, 5, 9, 0])), J,
             train='skip', test='skip'),
        Case('iscrowd_two', 'coco', coco(_ann(1, iscrowd=2)), J),
        Case('iscrowd_a_string', 'coco', coco(_ann(1, iscrowd='no')), J),
        Case('polygon_two_points', 'coco',
             coco(_ann(1, segmentation=[[5.0, 5.0, 9.0, 9.0]])), J),
        Case('polygon_odd_numbers', 'coco', coco(_ann(
            1, segmentation=[[5.0, 5.0, 9.0, 9.0, 5.0, 9.0, 7.0]])), J),
        Case('polygon_strings', 'coco', coco(_ann(
            1, segmentation=[['5', '5', '9', '5', '9', '9']])), J),
        Case('segmentation_a_string', 'coco',
             coco(_ann(1, segmentation='polygon')), J),
        Case('rle_size_not_the_image', 'coco', coco(_rle(
            lambda s: s.update(size=[s['size'][0] + 1, s['size'][1]]))), J),
        Case('rle_size_not_the_image_skip', 'coco', coco(_rle(
            lambda s: s.update(size=[s['size'][0] + 1, s['size'][1]]))), J,
             mode='skip', train='skip'),
        Case('rle_counts_an_int', 'coco',
             coco(_rle(lambda s: s.update(counts=12345))), J),
        Case('rle_counts_too_long', 'coco', coco(_rle(_rle_too_long)), J),
        Case('rle_counts_list_wrong_sum', 'coco',
             coco(_rle(lambda s: s.update(counts=[10, 20, 30]))), J),
        # semantic maps
        Case('map_missing', 'semantic', remove(MAP1), 'img1.png'),
        Case('map_truncated', 'semantic', write_bytes(MAP1, keep=0.5),
             'img1.png'),
        Case('map_not_an_image', 'semantic', write_bytes(MAP1, html),
             'img1.png'),
        Case('map_rgb', 'semantic', resave_map(
            MAP1, lambda a: Image.fromarray(np.stack([a] * 3, -1))),
             'img1.png'),
        Case('map_16bit', 'semantic', resave_map(
            MAP1, lambda a: Image.fromarray(a.astype(np.uint16) * 257)),
             'img1.png'),
        Case('map_16bit_small_labels', 'semantic', resave_map(
            MAP1, lambda a: Image.fromarray(a.astype(np.uint16))),
             'img1.png'),
        Case('map_other_size', 'semantic', resave_map(
            MAP1, lambda a: Image.fromarray(a[:-8])), 'img1.png'),
        Case('map_label_200', 'semantic', resave_map(MAP1, _label(200)),
             'img1.png'),
        Case('map_label_just_above_classes', 'semantic',
             resave_map(MAP1, _label(4)), 'img1.png'),
        Case('map_label_200_skip', 'semantic', resave_map(MAP1, _label(200)),
             'img1.png', mode='skip', train='skip'),
        Case('map_other_size_skip', 'semantic', resave_map(
            MAP1, lambda a: Image.fromarray(a[:-8])), 'img1.png',
             mode='skip', train='skip'),
        # conversations
        Case('conv_empty_file', 'conversations', write_bytes(CONV, b''), L),
        Case('conv_not_a_list', 'conversations',
             write_bytes(CONV, b'{"id": "q0"}'), L),
        Case('conv_entry_not_an_object', 'conversations',
             conv(lambda d: d.append('hello')), L),
        Case('conv_roles_swapped', 'conversations', conv(
            lambda d: d[1].update(conversations=d[1]['conversations'][::-1])),
             L),
        Case('conv_role_unknown', 'conversations',
             conv(_turn(1, 1, **{'from': 'assistant'})), L),
        Case('conv_value_missing', 'conversations',
             conv(_turn(1, 1, value=None)), L),
        Case('conv_value_not_a_string', 'conversations',
             conv(_turn(1, 1, value=3)), L),
        Case('conv_no_image_token', 'conversations',
             conv(_turn(1, 0, value='How many shapes are there?')), L),
        Case('conv_two_image_tokens', 'conversations',
             conv(_turn(1, 0, value='<image>\n<image>\nHow many?')), L),
        Case('conv_unanswered', 'conversations', conv(
            lambda d: d[1]['conversations'].pop()), L),
        Case('conv_without_image', 'conversations',
             conv(lambda d: d[1].pop('image')), L),
        Case('conv_image_not_in_annotations', 'conversations',
             conv(lambda d: d[1].update(image='img9.jpg')), L),
        Case('conv_empty_conversations', 'conversations',
             conv(lambda d: d[1].update(conversations=[])), L),
        Case('conv_roles_swapped_skip', 'conversations', conv(
            lambda d: d[1].update(conversations=d[1]['conversations'][::-1])),
             L, mode='skip', train='skip'),
        Case('conv_image_not_in_annotations_skip', 'conversations',
             conv(lambda d: d[1].update(image='img9.jpg')), L, mode='skip',
             train='skip'),
    ]
    names = [x.name for x in c]
    assert len(set(names)) == len(names), 'case names must be unique'
    return c


def build_corpus(out_dir: str) -> List[Case]:
    """``out_dir/base`` and ``out_dir/<case>`` for every case."""
    base = osp.join(out_dir, 'base')
    if osp.isdir(base):
        shutil.rmtree(base)
    write_base(base)
    built = cases()
    for case in built:
        root = osp.join(out_dir, case.name)
        if osp.isdir(root):
            shutil.rmtree(root)
        shutil.copytree(base, root)
        case.apply(root)
    return built


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description='Write the fault corpus: a valid base dataset and one '
        'copy per fault')
    parser.add_argument('out_dir', help='where to write it')
    args = parser.parse_args(argv)
    built = build_corpus(args.out_dir)
    kinds = {}
    for case in built:
        kinds[case.kind] = kinds.get(case.kind, 0) + 1
    _dump(osp.join(args.out_dir, 'cases.json'),
          [dict(name=c.name, kind=c.kind, names=c.names, mode=c.mode,
                train=c.train, test=c.test) for c in built])
    print(f'{len(built)} cases in {args.out_dir} ('
          + ', '.join(f'{n} {k}' for k, n in kinds.items()) + ')')
    return 0


if __name__ == '__main__':
    sys.exit(main())
