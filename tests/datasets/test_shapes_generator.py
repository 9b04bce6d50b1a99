"""Tests for the synthetic shapes generator (images, COCO, semantic, LLaVA)."""
import filecmp
import importlib.util
import json
import os
import os.path as osp
import re
import sys
from collections import Counter

import cv2
import numpy as np
import pytest

_REPO = osp.abspath(osp.join(osp.dirname(__file__), '..', '..'))
if osp.join(_REPO, 'projects') not in sys.path:
    sys.path.insert(0, osp.join(_REPO, 'projects'))

from llava_detseg.datasets.generation import (  # noqa: E402
    CLASSES, COLORS, GENERATOR_VERSION, generate_shapes)
from llava_detseg.datasets.generation.shapes import (  # noqa: E402
    PLURALS, make_questions)

mask_utils = pytest.importorskip('pycocotools.mask')

NUM_TRAIN, NUM_VAL, SEED = 12, 4, 3
MIN_SIZE, MAX_SIZE = 96, 192
SPLIT_COUNTS = {'train': NUM_TRAIN, 'val': NUM_VAL}


def _generate(out_dir, **kwargs):
    cfg = dict(num_train=NUM_TRAIN, num_val=NUM_VAL, seed=SEED,
               min_size=MIN_SIZE, max_size=MAX_SIZE, progress=False)
    cfg.update(kwargs)
    return generate_shapes(str(out_dir), **cfg)


@pytest.fixture(scope='module')
def dataset(tmp_path_factory):
    out = tmp_path_factory.mktemp('shapes')
    summary = _generate(out)
    return str(out), summary


def _load(root, name):
    with open(osp.join(root, 'annotations', name), encoding='utf-8') as f:
        return json.load(f)


def _read_rgb(path):
    img = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    assert img is not None and img.ndim == 3 and img.shape[2] == 3
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def _read_sem(path):
    sem = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    assert sem is not None and sem.ndim == 2 and sem.dtype == np.uint8
    return sem


def _decode(ann, h, w):
    rles = mask_utils.frPyObjects(ann['segmentation'], h, w)
    return mask_utils.decode(mask_utils.merge(rles)).astype(bool)


def _all_files(root):
    out = []
    for dirpath, _, files in os.walk(root):
        out += [osp.relpath(osp.join(dirpath, f), root) for f in files]
    return sorted(out)


def _per_split(root, split):
    coco = _load(root, f'instances_{split}.json')
    anns = {im['id']: [] for im in coco['images']}
    for a in coco['annotations']:
        anns[a['image_id']].append(a)
    return coco, anns


# ---------------------------------------------------------------- layout --
def test_layout_meta_and_summary(dataset):
    root, summary = dataset
    for split, n in SPLIT_COUNTS.items():
        for sub in ('images', 'semantic'):
            names = sorted(os.listdir(osp.join(root, sub, split)))
            assert names == [f'{i:06d}.png' for i in range(n)]
        for kind in ('instances', 'llava'):
            assert osp.isfile(osp.join(root, 'annotations',
                                       f'{kind}_{split}.json'))
        coco = _load(root, f'instances_{split}.json')
        llava = _load(root, f'llava_{split}.json')
        assert summary[split] == dict(
            images=n,
            instances=len(coco['annotations']),
            questions=len(llava))
    with open(osp.join(root, 'meta.json')) as f:
        meta = json.load(f)
    assert meta['seed'] == SEED and meta['version'] == GENERATOR_VERSION
    assert (meta['num_train'], meta['num_val']) == (NUM_TRAIN, NUM_VAL)
    assert meta['classes'] == list(CLASSES)
    assert set(meta['colors']) == set(COLORS)


def test_categories(dataset):
    root, _ = dataset
    assert CLASSES == ('circle', 'square', 'triangle')
    assert set(COLORS) == {'red', 'green', 'blue', 'yellow'}
    for split in SPLIT_COUNTS:
        cats = _load(root, f'instances_{split}.json')['categories']
        assert [(c['id'], c['name']) for c in cats] == [(0, 'circle'),
                                                        (1, 'square'),
                                                        (2, 'triangle')]


# --------------------------------------------------------- determinism --
def test_deterministic_and_split_independent(dataset, tmp_path):
    root, _ = dataset
    again = tmp_path / 'again'
    _generate(again, progress=True)  # the progress bar must not matter
    files = _all_files(root)
    assert files == _all_files(str(again))
    match, mismatch, errors = filecmp.cmpfiles(
        root, str(again), files, shallow=False)
    assert not mismatch and not errors and len(match) == len(files)

    # Fewer train images must not change the val split.
    fewer = tmp_path / 'fewer'
    _generate(fewer, num_train=2)
    val_files = [f for f in files if '_val' in f or '/val/' in f]
    assert val_files
    _, mismatch, errors = filecmp.cmpfiles(
        root, str(fewer), val_files, shallow=False)
    assert not mismatch and not errors
    assert len(os.listdir(fewer / 'images' / 'train')) == 2


def test_other_seed_differs(dataset, tmp_path):
    root, _ = dataset
    _generate(tmp_path, num_train=2, num_val=0, seed=SEED + 1)
    assert not filecmp.cmp(
        osp.join(root, 'images', 'train', '000000.png'),
        str(tmp_path / 'images' / 'train' / '000000.png'),
        shallow=False)


def test_regeneration_removes_stale_files(tmp_path):
    _generate(tmp_path, num_train=3, num_val=1)
    _generate(tmp_path, num_train=1, num_val=1)
    assert os.listdir(tmp_path / 'images' / 'train') == ['000000.png']
    assert os.listdir(tmp_path / 'semantic' / 'train') == ['000000.png']


# ---------------------------------------------------- images / semantic --
def test_images_sizes_and_semantic_values(dataset):
    root, _ = dataset
    sizes = set()
    for split in SPLIT_COUNTS:
        coco, anns = _per_split(root, split)
        for im in coco['images']:
            assert re.fullmatch(r'\d{6}\.png', im['file_name'])
            img = _read_rgb(osp.join(root, 'images', split, im['file_name']))
            sem = _read_sem(osp.join(root, 'semantic', split,
                                     im['file_name']))
            h, w = sem.shape
            assert img.shape[:2] == (h, w) == (im['height'], im['width'])
            assert MIN_SIZE <= h <= MAX_SIZE and MIN_SIZE <= w <= MAX_SIZE
            sizes.add((h, w))
            assert set(np.unique(sem).tolist()) <= {0, 1, 2, 3}
            assert 1 <= len(anns[im['id']]) <= 5
            present = {a['category_id'] + 1 for a in anns[im['id']]}
            assert set(np.unique(sem).tolist()) - {0} == present
    assert len(sizes) > 1  # sizes vary per image


def test_background_muted_and_shapes_saturated(dataset):
    root, _ = dataset
    coco, anns = _per_split(root, 'train')
    for im in coco['images']:
        img = _read_rgb(osp.join(root, 'images', 'train', im['file_name']))
        sem = _read_sem(osp.join(root, 'semantic', 'train', im['file_name']))
        sat = cv2.cvtColor(img, cv2.COLOR_RGB2HSV)[..., 1] / 255.
        assert np.percentile(sat[sem == 0], 99) < 0.35
        assert sat[sem > 0].min() > 0.6
        # The colour name of every instance is the nearest palette colour of
        # its painted pixels.
        for a in anns[im['id']]:
            m = _decode(a, im['height'], im['width'])
            mean = img[m].reshape(-1, 3).mean(0)
            nearest = min(COLORS, key=lambda c: np.linalg.norm(
                mean - np.array(COLORS[c])))
            assert nearest == a['color']


# ------------------------------------------------------------------ COCO --
def test_coco_annotations_fields_and_bboxes(dataset):
    root, _ = dataset
    for split in SPLIT_COUNTS:
        coco, anns = _per_split(root, split)
        ids = [a['id'] for a in coco['annotations']]
        assert ids == list(range(1, len(ids) + 1))
        sizes = {im['id']: (im['height'], im['width'])
                 for im in coco['images']}
        for a in coco['annotations']:
            assert a['category_id'] in (0, 1, 2) and a['iscrowd'] == 0
            assert a['color'] in COLORS
            assert isinstance(a['area'], int) and a['area'] >= 80
            h, w = sizes[a['image_id']]
            x, y, bw, bh = a['bbox']
            assert all(isinstance(v, float) for v in a['bbox'])
            assert bw > 0 and bh > 0
            assert x >= 0 and y >= 0 and x + bw <= w and y + bh <= h
            assert a['segmentation'] and all(
                len(p) >= 6 and len(p) % 2 == 0 for p in a['segmentation'])
            # bbox is that of the visible (decoded) mask.
            m = _decode(a, h, w)
            ys, xs = np.nonzero(m)
            assert abs(xs.min() - x) <= 1 and abs(ys.min() - y) <= 1
            assert abs(xs.max() + 1 - (x + bw)) <= 1
            assert abs(ys.max() + 1 - (y + bh)) <= 1


def test_masks_agree_with_semantic(dataset):
    root, _ = dataset
    for split in SPLIT_COUNTS:
        coco, anns = _per_split(root, split)
        for im in coco['images']:
            h, w = im['height'], im['width']
            sem = _read_sem(osp.join(root, 'semantic', split,
                                     im['file_name']))
            masks = [_decode(a, h, w) for a in anns[im['id']]]
            covered = np.zeros((h, w), np.int32)
            for a, m in zip(anns[im['id']], masks):
                covered += m
                assert abs(int(m.sum()) - a['area']) <= 0.05 * a['area']
                # This instance's semantic region: its class, near its own
                # mask, minus other instances of the same class.
                others = np.zeros((h, w), bool)
                for b, mb in zip(anns[im['id']], masks):
                    if b is not a and b['category_id'] == a['category_id']:
                        others |= mb
                near = cv2.dilate(m.astype(np.uint8), np.ones((3, 3)))
                ref = (sem == a['category_id'] + 1) & (near > 0) & ~others
                iou = (m & ref).sum() / max((m | ref).sum(), 1)
                assert iou > 0.85, (split, im['id'], a['id'], iou)
            # Visible masks tile the foreground: no overlaps, no gaps.
            assert (covered > 1).sum() <= 0.02 * (sem > 0).sum()
            fg = covered > 0
            assert (fg & (sem > 0)).sum() / (fg | (sem > 0)).sum() > 0.97


# ----------------------------------------------------------------- LLaVA --
_Q_COUNT = re.compile(r'How many (\w+) are there\?')
_Q_COLOR = re.compile(r'What color is the (\w+)\?')
_Q_YESNO = re.compile(r'Is there a (\w+) (\w+)\?')


def test_llava_answers_consistent(dataset):
    root, _ = dataset
    plural_to_cls = {PLURALS[c]: i for i, c in enumerate(CLASSES)}
    assert set(plural_to_cls) == {'circles', 'squares', 'triangles'}
    answers = Counter()
    for split in SPLIT_COUNTS:
        coco, anns = _per_split(root, split)
        by_file = {im['file_name']: anns[im['id']] for im in coco['images']}
        llava = _load(root, f'llava_{split}.json')
        ids = [e['id'] for e in llava]
        assert len(set(ids)) == len(ids)
        per_image = Counter(e['image'] for e in llava)
        assert set(per_image) == set(by_file)
        assert all(4 <= n <= 6 for n in per_image.values())
        for e in llava:
            assert re.fullmatch(rf'{split}_\d+_\d+', e['id'])
            human, gpt = e['conversations']
            assert human['from'] == 'human' and gpt['from'] == 'gpt'
            assert human['value'].startswith('<image>\n')
            assert human['value'].count('<image>') == 1
            q, a = human['value'][len('<image>\n'):], gpt['value']
            insts = by_file[e['image']]
            if m := _Q_COUNT.fullmatch(q):
                cls = plural_to_cls[m.group(1)]
                assert a == str(sum(i['category_id'] == cls for i in insts))
                answers['zero' if a == '0' else 'count'] += 1
            elif m := _Q_COLOR.fullmatch(q):
                cls = CLASSES.index(m.group(1))
                hits = [i for i in insts if i['category_id'] == cls]
                assert len(hits) == 1 and a == hits[0]['color']
                answers['color'] += 1
            elif m := _Q_YESNO.fullmatch(q):
                col, cls = m.group(1), CLASSES.index(m.group(2))
                assert col in COLORS
                exists = any(i['category_id'] == cls and i['color'] == col
                             for i in insts)
                assert a == ('yes' if exists else 'no')
                answers[a] += 1
            else:
                pytest.fail(f'unexpected question {q!r}')
    for kind in ('zero', 'count', 'color', 'yes', 'no'):
        assert answers[kind] > 0, answers


def test_make_questions_balance():
    """Yes/no about 50/50 and zero counts present over many random images;
    an image's yes/no answers do not give each other away (generator 1.0
    alternated them: the second always differed from the first)."""
    rng = np.random.default_rng(0)
    answers = Counter()
    pairs = Counter()
    for _ in range(600):
        n = int(rng.integers(1, 6))
        insts = [dict(cls=int(rng.integers(3)),
                      color=list(COLORS)[int(rng.integers(4))])
                 for _ in range(n)]
        qa = make_questions(rng, insts)
        assert 4 <= len(qa) <= 6 and len({q for q, _ in qa}) == len(qa)
        answers.update(a for _, a in qa)
        yn = [a for q, a in qa if q.startswith('Is there')]
        pairs.update(zip(yn, yn[1:]))
    same = pairs['yes', 'yes'] + pairs['no', 'no']
    assert 0.3 < same / sum(pairs.values()) < 0.7, pairs
    yes, no = answers['yes'], answers['no']
    assert 0.45 < yes / (yes + no) < 0.55, (yes, no)
    assert answers['0'] > 0.05 * sum(answers.values())


# ------------------------------------------------------------------- CLI --
def _load_cli():
    path = osp.join(_REPO, 'tools', 'dataset_converters', 'generate_shapes.py')
    spec = importlib.util.spec_from_file_location('generate_shapes_cli', path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_cli_caches_on_matching_meta(tmp_path, capsys):
    cli = _load_cli()
    args = ['--out-dir', str(tmp_path), '--num-train', '2', '--num-val',
            '1', '--seed', '5', '--no-progress']
    first = cli.main(args)
    assert first['cached'] is False and first['train']['images'] == 2
    marker = tmp_path / 'images' / 'train' / '000000.png'
    mtime = marker.stat().st_mtime_ns
    second = cli.main(args)
    assert second['cached'] is True and second['train'] == first['train']
    assert marker.stat().st_mtime_ns == mtime
    # A different seed or --force regenerates.
    assert cli.main(args[:-2] + ['6', '--no-progress'])['cached'] is False
    assert cli.main(args + ['--force'])['cached'] is False
    assert 'up to date' in capsys.readouterr().out


def test_bg_gray_draws_backgrounds_in_its_range(tmp_path):
    """--bg-gray (held-out splits): every background pixel's gray level
    stays in the range (tints and noise aside), the shapes are unchanged in
    kind, the range is recorded and a changed range regenerates."""
    cli = _load_cli()
    args = ['--out-dir', str(tmp_path), '--num-train', '6', '--num-val',
            '1', '--seed', '5', '--no-progress', '--bg-gray', '225', '245']
    assert cli.main(args)['cached'] is False
    meta = json.load(open(tmp_path / 'meta.json'))
    assert meta['bg_gray'] == [225.0, 245.0]
    for name in sorted(os.listdir(tmp_path / 'images' / 'train')):
        img = _read_rgb(str(tmp_path / 'images' / 'train' / name))
        sem = _read_sem(str(tmp_path / 'semantic' / 'train' / name))
        gray = img[sem == 0].astype(float).mean(axis=1)
        # 0.09 tint of <= 245, noise sigma <= 9 (3 sigma), +-45 stripes
        assert np.median(gray) > 180, name
    assert cli.main(args)['cached'] is True
    assert cli.main(args[:-2] + ['10', '40'])['cached'] is False
    with pytest.raises(ValueError, match='bg_gray must be'):
        generate_shapes(str(tmp_path / 'bad'), num_train=1, num_val=0,
                        bg_gray=(200, 100), progress=False)
