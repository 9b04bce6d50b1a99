"""The format checks of llava_detseg.datasets.validation, one rule each."""
import copy
import json
import re

import numpy as np
import pytest

from llava_detseg.datasets import DataError
from llava_detseg.datasets.errors import ErrorPolicy
from llava_detseg.datasets.validation import (
    conversation_problem, image_size_problem, load_coco_json, map_problem,
    validate_coco)
from llava_detseg.datasets.validation.coco import _rle_length
from sample_datasets import COCO_CATS, write_coco

CLASSES = tuple(c['name'] for c in COCO_CATS)


@pytest.fixture(scope='module')
def coco(tmp_path_factory) -> dict:
    """A valid COCO instances file (polygons, one compressed-RLE crowd)."""
    path = write_coco(str(tmp_path_factory.mktemp('coco')), num=3)
    return dict(path=path, data=load_coco_json(path))


def _check(data, classes=CLASSES, on_error='raise'):
    policy = ErrorPolicy(on_error, 'test')
    return validate_coco(data, 'ann.json', policy, classes), policy


def test_a_valid_file_passes_whole(coco):
    out, policy = _check(copy.deepcopy(coco['data']))
    assert out['images'] == coco['data']['images']
    assert out['annotations'] == coco['data']['annotations']
    assert not policy.skipped


def _ann(d, k=1):
    return d['annotations'][k]


def _crowd(d):
    return next(a for a in d['annotations'] if a['iscrowd'])


# (edit, field named, words of the problem)
ANNOTATION_FAULTS = [
    (lambda d: _ann(d).update(category_id=99), 'category_id', 'not a declared'),
    (lambda d: _ann(d).update(image_id=5), 'image_id', 'not a declared'),
    (lambda d: _ann(d).update(bbox=[1, 2, float('nan'), 3]), 'bbox',
     'non-finite'),
    (lambda d: _ann(d).update(bbox=[1, 2, 3]), 'bbox', 'expected [x, y, w, h]'),
    (lambda d: _ann(d).update(bbox=['1', 2, 3, 4]), 'bbox', 'non-numeric'),
    (lambda d: _ann(d).update(bbox=[1, 2, -1, 4]), 'bbox', 'non-positive'),
    (lambda d: _ann(d).update(bbox=[900, 2, 5, 4]), 'bbox', 'outside'),
    (lambda d: _ann(d).pop('area'), 'area', 'missing'),
    (lambda d: _ann(d).update(iscrowd=3), 'iscrowd', 'expected 0 or 1'),
    (lambda d: _ann(d).update(segmentation=[[1.0, 2.0, 3.0, 4.0]]),
     'segmentation', '>= 3 (x, y) points'),
    (lambda d: _crowd(d)['segmentation'].update(size=[1, 2]),
     'segmentation', "image's [height, width]"),
    (lambda d: _crowd(d)['segmentation'].update(counts=7), 'segmentation',
     'list of ints or a string'),
    (lambda d: _crowd(d)['segmentation'].update(counts=[1, 2]),
     'segmentation', 'cover 3 pixels'),
    (lambda d: _ann(d).update(id=_ann(d, 0)['id']), 'id', 'declared twice'),
]


@pytest.mark.parametrize('edit,field,words', ANNOTATION_FAULTS)
def test_annotation_faults_are_named_or_skipped(coco, edit, field, words):
    data = copy.deepcopy(coco['data'])
    edit(data)
    with pytest.raises(DataError) as err:
        _check(copy.deepcopy(data))
    msg = str(err.value)
    assert msg.startswith('ann.json: sample ') and f'field "{field}"' in msg
    assert words in msg, msg
    assert err.value.field == field and err.value.kind
    out, policy = _check(data, on_error='skip')
    assert policy.skipped == {'annotation': 1}
    assert len(out['annotations']) == len(data['annotations']) - 1
    assert policy.errors[0].field == field


@pytest.mark.parametrize('edit', [
    lambda d: _ann(d).update(bbox=[1, 2, 0, 4]),
    lambda d: _ann(d).update(bbox=[1, 2, 3, 0.0]),
    lambda d: _ann(d).update(area=0),
])
def test_zero_size_boxes_are_left_out_and_counted_never_raised(
        coco, edit, monkeypatch):
    """Valid COCO (real train2017 has two) that mmdet ignores: a run with
    on_error='raise' goes on, the annotation left out, one log line."""
    from llava_detseg.datasets import errors
    logged = []
    monkeypatch.setattr(errors, 'print_log',
                        lambda msg, **kw: logged.append(msg))
    data = copy.deepcopy(coco['data'])
    edit(data)
    out, policy = _check(data)
    assert len(out['annotations']) == len(data['annotations']) - 1
    assert not policy.skipped
    assert len(logged) == 1 and 'skipped annotation' in logged[0]
    assert 'left out, as mmdet does' in logged[0]


@pytest.mark.parametrize('edit,field', [
    (lambda d: d['images'][1].pop('width'), 'images[].width'),
    (lambda d: d['images'][1].update(height='96'), 'images[].height'),
    (lambda d: d['images'][1].update(file_name=''), 'images[].file_name'),
])
def test_a_bad_image_entry_is_skipped_with_its_annotations(coco, edit, field):
    data = copy.deepcopy(coco['data'])
    edit(data)
    with pytest.raises(DataError, match=rf'field "{re.escape(field)}"'):
        _check(copy.deepcopy(data))
    out, policy = _check(data, on_error='skip')
    # the image's annotations leave with it, not counted twice
    assert policy.skipped == {'image': 1}
    kept = {a['image_id'] for a in out['annotations']}
    assert data['images'][1]['id'] not in kept and len(out['images']) == 2


@pytest.mark.parametrize('edit,words', [
    (lambda d: d['images'][1].update(id=d['images'][0]['id']),
     'declared twice'),
    (lambda d: d['categories'][1].update(id=d['categories'][0]['id']),
     'declared twice'),
    (lambda d: d['categories'][1].update(name=d['categories'][0]['name']),
     'is also category id'),
    (lambda d: d['categories'][1].update(name='kar'),
     "only in the file ['kar'], only in classes ['car']"),
])
def test_file_level_faults_raise_even_when_skipping(coco, edit, words):
    data = copy.deepcopy(coco['data'])
    edit(data)
    with pytest.raises(DataError, match=re.escape(words)):
        _check(data, on_error='skip')


def test_categories_may_be_a_superset_or_subset_of_classes(coco):
    # mmdet trains on a subset by naming fewer classes; a file may also
    # lack some classes (the tiny twin's 3 of COCO's 80)
    _check(copy.deepcopy(coco['data']), classes=CLASSES[:2])
    _check(copy.deepcopy(coco['data']), classes=CLASSES + ('bus', ))


@pytest.mark.parametrize('content,words', [
    ('', 'not valid JSON'),
    ('[]', 'got a JSON list'),
    ('{"images": [], "annotations": [], "categories": []}', 'empty'),
    ('{"images": [{"id": 1}], "categories": []}', '"annotations": missing'),
    ('{"images": {}, "annotations": [], "categories": []}',
     'expected a list'),
])
def test_file_structure(tmp_path, content, words):
    path = tmp_path / 'ann.json'
    path.write_text(content)
    with pytest.raises(DataError, match=re.escape(words)) as err:
        load_coco_json(str(path))
    assert str(err.value).startswith(str(path))


def test_rle_length_matches_pycocotools():
    from pycocotools import mask as mask_utils
    rng = np.random.default_rng(0)
    for h, w in ((5, 7), (64, 80), (33, 1)):
        m = np.asfortranarray(rng.integers(0, 2, (h, w), dtype=np.uint8))
        counts = mask_utils.encode(m)['counts'].decode()
        assert _rle_length(counts) == h * w
    with pytest.raises(ValueError):
        _rle_length('1`')  # ends inside a number


def test_semantic_map_rules():
    seg = np.zeros((4, 6), np.uint8)
    assert map_problem('L', seg, (4, 6), 3) is None
    seg[0, 0] = 255  # ignored
    assert map_problem('P', seg, (4, 6), 3) is None
    kind, msg = map_problem('L', seg, (5, 6), 3)
    assert kind == 'semantic.size' and '6x4' in msg and '6x5' in msg
    kind, msg = map_problem('RGB', np.zeros((4, 6, 3), np.uint8), (4, 6), 3)
    assert kind == 'semantic.format' and 'mode RGB' in msg
    assert map_problem('I;16', seg.astype(np.uint16), (4, 6), 3)[0] == \
        'semantic.format'
    seg[1, :2] = [3, 200]
    kind, msg = map_problem('L', seg, (4, 6), 3)
    assert kind == 'semantic.labels' and '[3, 200]' in msg
    assert '2 pixels' in msg and '0..2' in msg
    # ADE20K: 0 is "other" (ignored), labels 1..150
    ade = np.array([[0, 1, 150, 255]], np.uint8)
    assert map_problem('L', ade, (1, 4), 150, reduce_zero_label=True) is None
    ade[0, 1] = 151
    assert '[151]' in map_problem('L', ade, (1, 4), 150,
                                  reduce_zero_label=True)[1]


def test_image_size_rule():
    assert image_size_problem((64, 80, 3), 80, 64) is None
    assert image_size_problem((64, 80, 3), None, None) is None
    msg = image_size_problem((80, 64, 3), 80, 64)
    assert '64x80' in msg and 'width 80, height 64' in msg


@pytest.mark.parametrize('entry,field', [
    ('text', '.'),
    (dict(conversations=[]), 'image'),
    (dict(image='a.jpg', conversations=[]), 'conversations'),
    (dict(image='a.jpg', conversations=[{'from': 'gpt', 'value': 'x'}]),
     'conversations[0]'),
    (dict(image='a.jpg', conversations=[
        {'from': 'human', 'value': '<image>\nq'}, {'from': 'gpt'}]),
     'conversations[1].value'),
    (dict(image='a.jpg', conversations=[
        {'from': 'human', 'value': '<image>\nq'},
        {'from': 'gpt', 'value': ['a']}]), 'conversations[1].value'),
    (dict(image='a.jpg', conversations=[
        {'from': 'human', 'value': 'q'}, {'from': 'gpt', 'value': 'a'}]),
     'conversations[0].value'),
])
def test_conversation_rules(entry, field):
    problem, got = conversation_problem(entry)
    assert problem and got == field
    good = dict(image='a.jpg', conversations=[
        {'from': 'human', 'value': '<image>\nq'},
        {'from': 'gpt', 'value': 'a'}])
    assert conversation_problem(json.loads(json.dumps(good))) == (None, None)

