"""Property and unit tests of the <DET>/<SEG> text codec."""
import cv2
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from llava_detseg.structures import (FAILURE_KEYS, DetSegTextCodec,
                                     ParsedResponse, special_tokens)

CLASSES = ('circle', 'square', 'triangle', 'traffic light')
# The documented size above which a mask round trip keeps IoU >= 0.9 (at the
# default tolerance 1 px, 32 vertices, images up to 1000 px a side): compact
# regions whose inscribed circle has a radius of at least 8 px (a circle
# of 12 px diameter comes back as a square, IoU 0.81: see docs).
MIN_INRADIUS = 8.0
FAST = settings(max_examples=60, deadline=None,
                suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(scope='module')
def codec():
    return DetSegTextCodec(CLASSES, max_boxes=20)


def _codec():
    return DetSegTextCodec(CLASSES, max_boxes=20)


# ---------------------------------------------------------------- boxes
@st.composite
def boxes_on_images(draw):
    h = draw(st.integers(1, 4000))
    w = draw(st.integers(1, 4000))
    n = draw(st.integers(0, 20))
    unit = st.floats(0, 1, allow_nan=False)
    boxes = []
    for _ in range(n):
        xa, xb = sorted([draw(unit) * w, draw(unit) * w])
        ya, yb = sorted([draw(unit) * h, draw(unit) * h])
        boxes.append([xa, ya, xb, yb])
    labels = draw(st.lists(st.integers(0, len(CLASSES) - 1), min_size=n,
                           max_size=n))
    scores = draw(st.lists(st.floats(0, 1, allow_nan=False), min_size=n,
                           max_size=n))
    return (h, w), np.array(boxes).reshape(-1, 4), np.array(labels), \
        np.array(scores)


@FAST
@given(boxes_on_images())
def test_box_round_trip_within_one_bin(case):
    codec = _codec()
    (h, w), boxes, labels, scores = case
    text = codec.encode_response('ok', [
        codec.encode_det(boxes, labels, (h, w), scores=scores)])
    parsed = codec.decode(text, (h, w))
    assert parsed.ok and parsed.has_det and not parsed.has_seg
    assert parsed.answer == 'ok'
    order = np.argsort(-scores, kind='stable')
    assert len(parsed.bboxes) == len(order)
    np.testing.assert_array_equal(parsed.labels, labels[order])
    bin_size = np.array([w, h, w, h]) / codec.num_bins
    err = np.abs(parsed.bboxes - boxes[order])
    assert (err <= bin_size + 1e-3).all()
    # rank scores keep the written order within each class
    for c in np.unique(parsed.labels):
        assert (np.diff(parsed.scores[parsed.labels == c]) < 0).all()


def test_rank_scores_rank_classes_by_place_and_boxes_within_class():
    """Class runs (two circles, then a square): the circles are the first of
    two classes (factor 1): 1 and 1/2; the square the second (factor 1/2)
    and its class's first box: 1/2. Written square first, the square gets
    1 and the circles 1/2 and 1/4: the class order carries the ranking,
    the format's fixed class order would not."""
    codec = DetSegTextCodec(('circle', 'square'))
    circles = ('circle <loc_1><loc_1><loc_9><loc_9>; '
               'circle <loc_20><loc_20><loc_29><loc_29>')
    square = 'square <loc_40><loc_40><loc_49><loc_49>'
    parsed = codec.decode(f'Answer: <DET>{circles}; {square}</DET>',
                          (100, 100))
    assert parsed.labels.tolist() == [0, 0, 1]
    assert parsed.scores.tolist() == [1.0, 0.5, 0.5]
    parsed = codec.decode(f'Answer: <DET>{square}; {circles}</DET>',
                          (100, 100))
    assert parsed.labels.tolist() == [1, 0, 0]
    assert parsed.scores.tolist() == [1.0, 0.5, 0.25]
    # one class: its own order alone, as before
    assert codec.decode(f'Answer: <DET>{circles}</DET>',
                        (100, 100)).scores.tolist() == [1.0, 0.5]


def test_at_most_max_boxes_highest_scores_first():
    codec = DetSegTextCodec(CLASSES, max_boxes=2)
    boxes = np.array([[0, 0, 5, 5], [1, 1, 6, 6], [2, 2, 7, 7.]])
    text = codec.encode_det(boxes, [0, 1, 2], (10, 10),
                            scores=np.array([0.1, 0.9, 0.5]))
    parsed = codec.decode(text, (10, 10))
    assert list(parsed.labels) == [1, 2]
    assert text.count(';') == 1


def test_class_names_with_spaces_and_exact_text(codec):
    text = codec.encode_det([[0, 0, 50, 100]], [3], (100, 100))
    assert text == '<DET>traffic light <loc_0><loc_0><loc_500><loc_999></DET>'
    assert list(codec.decode(text, (100, 100)).labels) == [3]


def test_bad_class_names_are_refused():
    for bad in (['a;b'], ['<x>'], ['  ']):
        with pytest.raises(ValueError, match='cannot be written'):
            DetSegTextCodec(bad)


def test_class_names_are_written_with_collapsed_spaces():
    # ADE20K's meta holds 'bed ' with a trailing space
    codec = DetSegTextCodec(['wall', 'bed ', ' hair  drier'])
    assert codec.classes == ('wall', 'bed', 'hair drier')
    text = codec.encode_det([[0, 0, 5, 5], [1, 1, 4, 4]], [1, 2], (10, 10))
    assert text.startswith('<DET>bed <loc_0>')
    assert list(codec.decode(text, (10, 10)).labels) == [1, 2]


# ---------------------------------------------------------------- masks
@st.composite
def compact_regions(draw):
    """A convex region of inradius >= MIN_INRADIUS fully inside an image."""
    h = draw(st.integers(48, 1000))
    w = draw(st.integers(48, 1000))
    kind = draw(st.sampled_from(['ellipse', 'rectangle', 'triangle']))
    r = draw(st.floats(MIN_INRADIUS, min(h, w) / 4))
    ratio = draw(st.floats(1, 3))
    angle = draw(st.floats(0, 180))
    extent = 2 * r * max(ratio, 1) + 2
    cx = draw(st.floats(0, 1)) * max(w - 2 * extent, 0) + min(extent, w / 2)
    cy = draw(st.floats(0, 1)) * max(h - 2 * extent, 0) + min(extent, h / 2)
    mask = np.zeros((h, w), np.uint8)
    if kind == 'ellipse':
        cv2.ellipse(mask, ((cx, cy), (2 * r * ratio, 2 * r), angle), 1, -1)
    else:
        if kind == 'rectangle':
            pts = cv2.boxPoints(((cx, cy), (2 * r * ratio, 2 * r), angle))
        else:  # equilateral: circumradius 2r gives inradius r
            a = np.deg2rad(angle) + np.arange(3) * 2 * np.pi / 3
            pts = np.stack([cx + 2 * r * np.cos(a), cy + 2 * r * np.sin(a)],
                           1)
        cv2.fillPoly(mask, [np.round(pts).astype(np.int32)], 1)
    return mask


@FAST
@given(compact_regions(), st.integers(1, 4))
def test_mask_round_trip_iou(mask, label):
    codec = _codec()
    sem = mask.astype(np.int64) * label
    parsed = codec.decode(codec.encode_seg(sem), sem.shape)
    assert parsed.ok and parsed.has_seg
    assert all(lab == label for lab, _ in parsed.polygons)
    assert all(3 <= len(p) <= codec.max_vertices for _, p in parsed.polygons)
    out = parsed.render_sem_seg()
    inter = ((out == label) & (sem == label)).sum()
    union = ((out == label) | (sem == label)).sum()
    assert inter / union >= 0.9


def test_one_polygon_per_region_holes_filled_nested_class_kept(codec):
    sem = np.zeros((100, 120), np.int32)
    cv2.circle(sem, (30, 30), 20, 1, -1)  # circle ...
    cv2.circle(sem, (30, 30), 8, 0, -1)  # ... with a background hole
    cv2.rectangle(sem, (60, 10), (110, 90), 2, -1)  # square ...
    cv2.rectangle(sem, (75, 30), (95, 70), 3, -1)  # ... around a triangle
    cv2.rectangle(sem, (5, 70), (25, 90), 2, -1)  # a second square region
    text = codec.encode_seg(sem)
    assert text.count('<poly>') == 4  # one per connected region
    assert text.count('square <poly>') == 2
    out = codec.decode(text, sem.shape).render_sem_seg()
    assert out[30, 30] == 1  # the background hole is filled
    assert (out[40:60, 80:90] == 3).all()  # the nested region survives
    for label in (2, 3):
        inter = ((out == label) & (sem == label)).sum()
        assert inter / ((out == label) | (sem == label)).sum() > 0.9


def test_vertex_cap_and_small_regions(codec):
    capped = DetSegTextCodec(CLASSES, max_vertices=5, min_region_area=10)
    sem = np.zeros((200, 200), np.int32)
    cv2.circle(sem, (100, 100), 80, 1, -1)
    sem[5:7, 5:7] = 2  # 4 px: below min_region_area
    parsed = capped.decode(capped.encode_seg(sem), sem.shape)
    assert len(parsed.polygons) == 1
    assert 3 <= len(parsed.polygons[0][1]) <= 5
    # a one-pixel-thin line stays a (degenerate) valid polygon
    line = np.zeros((50, 50), np.int64)
    line[10, 5:45] = 1
    parsed = codec.decode(codec.encode_seg(line), line.shape)
    assert parsed.ok and (parsed.render_sem_seg() == 1).sum() >= 30


# ---------------------------------------------------------------- decoding
def test_each_failure_is_counted(codec):
    cases = {
        '<DET>circle <loc_1><loc_2><loc_3><loc_4>': 'unclosed_tag',
        'x </DET>': 'unopened_tag',
        '<DET>dog <loc_1><loc_2><loc_3><loc_4></DET>': 'unknown_class',
        '<DET>circle <loc_1><loc_2><loc_3></DET>': 'bad_loc_count',
        '<DET>circle <loc_1><loc_2><loc_3><loc_1000></DET>': 'bad_loc',
        '<DET>circle <loc_5><loc_2><loc_3><loc_4></DET>': 'inverted_box',
        '<SEG>circle <poly></poly></SEG>': 'empty_polygon',
        '<SEG>circle <poly><loc_1><loc_2><loc_3></poly></SEG>':
        'bad_loc_count',
        '<DET>circle hello</DET>': 'garbage',
        '<SEG>circle <poly><loc_1><loc_2>zz</poly></SEG>': 'garbage',
    }
    for text, reason in cases.items():
        parsed = codec.decode(text, (10, 10))
        assert parsed.failures[reason] >= 1, (text, parsed.failures)
        assert not parsed.ok
    # the good items of a block survive its bad ones
    parsed = codec.decode(
        '<DET>circle <loc_1><loc_2><loc_3><loc_4>; dog <loc_1></DET>',
        (10, 10))
    assert len(parsed.bboxes) == 1 and parsed.num_failures == 1


TOKENS = special_tokens() + list(CLASSES) + [
    ' ', ';', '; ', 'Answer:', '<loc_', '>', '<', 'loc_12', '<loc_1234>',
    'dog', '\n', '</poly', '<DET', 'é', '\x00'
]


@settings(max_examples=300, deadline=None)
@given(st.one_of(
    st.text(max_size=300),
    st.lists(st.sampled_from(TOKENS), max_size=120).map(''.join)),
    st.integers(1, 2000), st.integers(1, 2000))
def test_decoding_random_text_never_raises(text, h, w):
    codec = _codec()
    parsed = codec.decode(text, (h, w))
    assert isinstance(parsed, ParsedResponse)
    assert set(parsed.failures) <= set(FAILURE_KEYS)
    n = len(parsed.bboxes)
    assert parsed.labels.shape == parsed.scores.shape == (n, )
    if n:
        b = parsed.bboxes
        assert (b[:, 2] >= b[:, 0]).all() and (b[:, 3] >= b[:, 1]).all()
        assert (b >= 0).all() and (b[:, [0, 2]] <= w).all() and \
            (b[:, [1, 3]] <= h).all()
        assert (0 <= parsed.labels).all() and \
            (parsed.labels < len(CLASSES)).all()
    for label, pts in parsed.polygons:
        assert 0 <= label < len(codec.seg_classes) and len(pts) >= 3
    if h * w <= 250_000:
        assert parsed.render_sem_seg().shape == (h, w)


def test_decode_accepts_non_strings(codec):
    assert codec.decode(None, (4, 4)).ok
    assert codec.decode(b'<DET>', (4, 4)).answer
