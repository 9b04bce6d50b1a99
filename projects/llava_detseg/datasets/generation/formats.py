"""Small COCO / ADE20K / LLaVA-format samples in their published layouts.

Written with Pillow and pycocotools, not with the shapes generator, so
converters and datasets are tried on files shaped as users have them, and
the full config's tiny twin runs on the very tree the full config expects
(``write_tiny_tree``; ``tools/dataset_converters/make_tiny_samples.py``).
"""
import json
import os
import os.path as osp

import numpy as np
from PIL import Image, ImageDraw

# COCO numbers its categories with gaps (1..90 for 80 classes)
COCO_CATS = [dict(id=1, name='person'), dict(id=3, name='car'),
             dict(id=18, name='dog')]


def write_coco(root: str, split: str = 'train2017', num: int = 4,
               seed: int = 0) -> str:
    """``root/{split}/*.jpg`` + ``root/annotations/instances_{split}.json``.

    Every image has a polygon object per category and image 0 also a crowd
    (RLE) region. Returns the annotation file.
    """
    from pycocotools import mask as mask_utils
    rng = np.random.default_rng(seed)
    os.makedirs(osp.join(root, split), exist_ok=True)
    os.makedirs(osp.join(root, 'annotations'), exist_ok=True)
    images, anns = [], []
    for k in range(num):
        w, h = 120 + 8 * k, 96
        img_id = 1000 + k
        name = f'{img_id:012d}.jpg'
        img = Image.new('RGB', (w, h), (100, 100, 100))
        draw = ImageDraw.Draw(img)
        for c, cat in enumerate(COCO_CATS):
            x0 = int(rng.integers(0, w - 40))
            y0 = int(rng.integers(0, h - 30))
            poly = [x0, y0, x0 + 30 + 5 * c, y0, x0 + 30 + 5 * c, y0 + 25,
                    x0, y0 + 25]
            draw.polygon(poly, fill=(60 * c, 200, 40 * c))
            anns.append(dict(id=len(anns) + 1, image_id=img_id,
                             category_id=cat['id'], iscrowd=0,
                             bbox=[x0, y0, 30 + 5 * c, 25],
                             area=float((30 + 5 * c) * 25),
                             segmentation=[[float(v) for v in poly]]))
        if k == 0:
            crowd = np.zeros((h, w), dtype=np.uint8, order='F')
            crowd[h - 10:, :20] = 1
            rle = mask_utils.encode(crowd)
            rle['counts'] = rle['counts'].decode()
            anns.append(dict(id=len(anns) + 1, image_id=img_id,
                             category_id=1, iscrowd=1, bbox=[0, h - 10, 20,
                                                             10],
                             area=200.0, segmentation=rle))
        img.save(osp.join(root, split, name), quality=95)
        images.append(dict(id=img_id, file_name=name, width=w, height=h))
    ann_file = osp.join(root, 'annotations', f'instances_{split}.json')
    with open(ann_file, 'w') as f:
        json.dump(dict(images=images, annotations=anns,
                       categories=COCO_CATS), f)
    return ann_file


def write_ade(root: str, num: int = 3, seed: int = 0) -> str:
    """``root/ADEChallengeData2016`` with both splits; returns that folder.

    Maps hold 0 ("other") on the left third and labels 1, 2 and 150 on the
    rest, so ``reduce_zero_label`` can be checked.
    """
    rng = np.random.default_rng(seed)
    base = osp.join(root, 'ADEChallengeData2016')
    for split, prefix in (('training', 'ADE_train'),
                          ('validation', 'ADE_val')):
        os.makedirs(osp.join(base, 'images', split), exist_ok=True)
        os.makedirs(osp.join(base, 'annotations', split), exist_ok=True)
        for k in range(num):
            w, h = 80 + 16 * k, 64
            img = rng.integers(0, 255, (h, w, 3), dtype=np.uint8)
            seg = np.zeros((h, w), dtype=np.uint8)
            seg[:, w // 3:] = 1
            seg[h // 2:, w // 3:] = 2
            seg[:8, -8:] = 150
            stem = f'{prefix}_{k + 1:08d}'
            Image.fromarray(img).save(
                osp.join(base, 'images', split, stem + '.jpg'))
            Image.fromarray(seg).save(
                osp.join(base, 'annotations', split, stem + '.png'))
    return base


def llava_entries(image_names, prefix: str = '', text_only: int = 1) -> list:
    """Two single-question entries per image (as LLaVA-Instruct has several
    per image) plus ``text_only`` ShareGPT-style entries without an image."""
    entries = []
    for k, name in enumerate(image_names):
        for q in range(2):
            entries.append(dict(id=f'{k}-{q}', image=prefix + name,
                                conversations=[
                                    {'from': 'human',
                                     'value': f'<image>\nQuestion {q}?'},
                                    {'from': 'gpt', 'value': f'Answer {q}.'},
                                    {'from': 'human', 'value': 'And then?'},
                                    {'from': 'gpt', 'value': 'Nothing.'}]))
    for t in range(text_only):
        entries.append(dict(id=f'text-{t}', conversations=[
            {'from': 'human', 'value': 'Write a poem.'},
            {'from': 'gpt', 'value': 'Roses.'}]))
    return entries


def write_json(path: str, obj) -> str:
    os.makedirs(osp.dirname(path), exist_ok=True)
    with open(path, 'w') as f:
        json.dump(obj, f)
    return path


def write_tiny_tree(root: str, num_train: int = 4, num_val: int = 2) -> dict:
    """``root/{coco,ade,llava}`` laid out as ``data/`` for the full config.

    COCO train2017 / val2017 with instances, ADEChallengeData2016, and
    LLaVA-Instruct train / val JSONs on the COCO train images (as
    LLaVA-Instruct-150K is), with text-only entries that the dataset leaves
    out. Returns the paths.
    """
    coco = osp.join(root, 'coco')
    train_ann = write_coco(coco, 'train2017', num=num_train, seed=0)
    write_coco(coco, 'val2017', num=num_val, seed=1)
    ade = write_ade(osp.join(root, 'ade'), num=max(num_train - 1, 1))
    with open(train_ann) as f:
        names = [i['file_name'] for i in json.load(f)['images']]
    write_json(osp.join(root, 'llava', 'llava_instruct_150k_train.json'),
               llava_entries(names[1:], text_only=1))
    write_json(osp.join(root, 'llava', 'llava_instruct_150k_val.json'),
               llava_entries(names[:1], text_only=0))
    return dict(coco=coco, ade=ade, llava=osp.join(root, 'llava'))
