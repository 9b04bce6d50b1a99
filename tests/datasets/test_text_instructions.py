import numpy as np
import pytest
from mmdet.structures.bbox import HorizontalBoxes

from llava_detseg.datasets.transforms import GenerateTextInstructions
from llava_detseg.structures import DetSegTextCodec

CLASSES = ('circle', 'square', 'triangle')


def _results():
    sem = np.zeros((100, 200), np.uint8)
    sem[10:40, 10:40] = 2  # square
    sem[50:90, 100:190] = 1  # circle (a box, it does not matter)
    sem[60:80, 20:40] = 2  # second square, left of the circle
    boxes = np.array([[10, 10, 40, 40], [100, 50, 190, 90], [20, 60, 40, 80.]])
    return dict(gt_bboxes=HorizontalBoxes(boxes),
                gt_bboxes_labels=np.array([1, 0, 1]), gt_seg_map=sem,
                img_shape=(100, 200), ori_shape=(50, 100))


def test_test_mode_is_a_fixed_set_with_parsable_answers():
    t = GenerateTextInstructions(CLASSES, num_per_image=None)
    items = t(_results())['text_conversations']
    assert [i['kind'] for i in items] == ['det_all', 'seg_all', 'det_class',
                                          'det_class', 'count']
    assert items[4]['question'] == 'How many circles are there?'
    assert items[4]['answer'].startswith('Answer: 1 <DET>circle')
    codec = DetSegTextCodec(CLASSES)
    det_all = codec.decode(items[0]['answer'], (100, 200))
    assert det_all.ok and len(det_all.bboxes) == 3
    # context order = largest box first (stands in for the head's scores)
    assert list(det_all.labels) == [0, 1, 1]
    # only a count answer writes a number before its block
    assert items[0]['answer'].startswith('Answer: <DET>')
    assert items[3]['answer'].startswith('Answer: <DET>')
    counted = GenerateTextInstructions(
        CLASSES, num_per_image=None,
        count_kinds=('det_all', 'count'))(_results())['text_conversations']
    assert counted[0]['answer'].startswith('Answer: 3 <DET>')
    assert counted[3]['answer'].startswith('Answer: <DET>')
    with pytest.raises(ValueError, match='count_kinds'):
        GenerateTextInstructions(CLASSES, count_kinds=('where', ))
    seg_all = codec.decode(items[1]['answer'], (100, 200))
    assert seg_all.ok and len(seg_all.polygons) == 3
    only = items[3]
    assert only['question'] == 'Detect only the squares.'
    parsed = codec.decode(only['answer'], (100, 200))
    assert set(parsed.labels.tolist()) == {1} and len(parsed.bboxes) == 2
    # the answer's items are the context's, in context order
    assert only['answer'].split('<DET>')[1].split('; ')[0] in only['context']


def test_test_kinds_add_one_seg_class_per_class_in_the_map():
    t = GenerateTextInstructions(
        CLASSES, num_per_image=None,
        test_kinds=('seg_all', 'seg_class', 'count'))
    items = t(_results())['text_conversations']
    assert [i['kind'] for i in items] == ['seg_all', 'seg_class',
                                          'seg_class', 'count']
    assert [i['question'] for i in items[1:3]] == ['Segment the circle.',
                                                   'Segment the square.']
    codec = DetSegTextCodec(CLASSES)
    squares = codec.decode(items[2]['answer'], (100, 200))
    assert squares.ok and {lab for lab, _ in squares.polygons} == {2}
    assert len(squares.polygons) == 2
    with pytest.raises(ValueError, match='test_kinds'):
        GenerateTextInstructions(CLASSES, test_kinds=('where', ))


def test_random_kinds_where_and_compound():
    np.random.seed(0)
    t = GenerateTextInstructions(CLASSES, kinds=('where', 'compound'),
                                 num_per_image=2)
    codec = DetSegTextCodec(CLASSES)
    seen = set()
    for _ in range(30):
        for item in t(_results())['text_conversations']:
            seen.add(item['kind'])
            parsed = codec.decode(item['answer'], (100, 200))
            assert parsed.ok
            if item['kind'] == 'where':
                assert len(parsed.bboxes) == 1
                if item['question'] == \
                        'Where is the second square from the left?':
                    # squares at x 10..40 and 20..40: the second is the right
                    assert parsed.bboxes[0, 0] == pytest.approx(20, abs=0.3)
            else:
                assert parsed.has_det and parsed.has_seg
    assert seen == {'where', 'compound'}


def test_coords_follow_the_named_frame():
    t = GenerateTextInstructions(CLASSES, num_per_image=None,
                                 kinds=('det_all', ), coords='ori_shape')
    item = t(_results())['text_conversations'][0]
    # boxes given in a 200-wide frame, encoded relative to ori 100 wide:
    # clipped to the last bin
    assert '<loc_999>' in item['answer']


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match='unknown kinds'):
        GenerateTextInstructions(CLASSES, kinds=('dance', ))
    with pytest.raises(ValueError, match='coords'):
        GenerateTextInstructions(CLASSES, coords='pixels')


def test_context_noise_makes_detector_like_contexts():
    np.random.seed(0)
    t = GenerateTextInstructions(
        CLASSES, kinds=('det_all', 'det_class', 'count'), num_per_image=3,
        context_noise=dict(prob=1.0, max_extra=6))
    codec = DetSegTextCodec(CLASSES)
    longer = 0
    for _ in range(20):
        for item in t(_results())['text_conversations']:
            ctx = codec.decode('Answer: ' + item['context'], (100, 200))
            ans = codec.decode(item['answer'], (100, 200))
            assert ctx.ok and ans.ok
            if item['kind'] == 'count':  # facts about the image: no noise
                assert len(ctx.bboxes) == 3
                continue
            longer += len(ctx.bboxes) > 3
            body = item['answer'].split('<DET>')[1].split('</DET>')[0]
            pieces = [p for p in body.split('; ') if p]
            ctx_items = item['context'].split('<DET>')[1].split(
                '</DET>')[0].split('; ')
            if item['kind'] == 'det_all':  # the whole context, in order
                assert pieces == [p for p in ctx_items if p]
            else:  # the context's items of the class, in order
                assert pieces == [p for p in ctx_items
                                  if p.split(' <')[0] ==
                                  CLASSES[item['det'][0]]]
            assert ans.answer == ''  # no count before a det block
    assert longer >= 10
    with pytest.raises(ValueError, match='context_noise keys'):
        GenerateTextInstructions(CLASSES, context_noise=dict(pro=1))
    # test mode never adds noise
    t_test = GenerateTextInstructions(CLASSES, num_per_image=None,
                                      context_noise=dict(prob=1.0))
    item = t_test(_results())['text_conversations'][0]
    assert item['context'].count('<loc_') == 12


def test_annotated_answers_leave_the_extras_out():
    """context_noise.answer='annotated': the noisy context keeps its extra
    boxes, and det answers hold exactly the annotated ones of the asked
    classes, in context order."""
    np.random.seed(0)
    t = GenerateTextInstructions(
        CLASSES, kinds=('det_all', 'det_class'), num_per_image=2,
        context_noise=dict(prob=1.0, max_extra=6, answer='annotated'))
    codec = DetSegTextCodec(CLASSES)
    gt = _results()
    want = codec.det_items(gt['gt_bboxes'], gt['gt_bboxes_labels'],
                           (100, 200))
    extra = 0
    for _ in range(20):
        for item in t(_results())['text_conversations']:
            ctx_items = [p for p in item['context'].split('<DET>')[1].split(
                '</DET>')[0].split('; ') if p]
            body = item['answer'].split('<DET>')[1].split('</DET>')[0]
            pieces = [p for p in body.split('; ') if p]
            asked = [w for c, w in want if c in item['det']]
            assert sorted(pieces) == sorted(asked)
            # in context order
            assert pieces == [p for p in ctx_items if p in pieces]
            extra += len(ctx_items) - len(want)
    assert extra > 20
    with pytest.raises(ValueError, match='answer'):
        GenerateTextInstructions(CLASSES,
                                 context_noise=dict(answer='some'))


def test_class_answer_order_groups_the_context_by_class():
    """answer_order='class': a "detect all" answer holds the context's items
    one class after another (class-index order), each class in context
    order; one-class answers are unchanged."""
    np.random.seed(1)
    kinds = ('det_all', 'det_class')
    by_context = GenerateTextInstructions(
        CLASSES, kinds=kinds, num_per_image=2,
        context_noise=dict(prob=1.0, max_extra=6))
    by_class = GenerateTextInstructions(
        CLASSES, kinds=kinds, num_per_image=2,
        context_noise=dict(prob=1.0, max_extra=6), answer_order='class')
    grouped = 0
    for seed in range(10):
        np.random.seed(seed)
        a = by_context(_results())['text_conversations']
        np.random.seed(seed)
        b = by_class(_results())['text_conversations']
        for x, y in zip(a, b):
            assert x['context'] == y['context'] and x['kind'] == y['kind']
            ctx = [p for p in x['context'][5:-6].split('; ') if p]
            pieces = [p for p in y['answer'].split('<DET>')[1].split(
                '</DET>')[0].split('; ') if p]
            if y['kind'] == 'det_class':
                assert y['answer'] == x['answer']
                continue
            want = [p for c in CLASSES for p in ctx
                    if p.split(' <')[0] == c]
            assert pieces == want
            grouped += pieces != [p for p in x['answer'].split('<DET>')[
                1].split('</DET>')[0].split('; ') if p]
    assert grouped >= 3  # the noisy contexts do interleave classes
    with pytest.raises(ValueError, match='answer_order'):
        GenerateTextInstructions(CLASSES, answer_order='size')


def test_confidence_answer_order_puts_the_first_seen_class_first():
    """answer_order='confidence': class runs as with 'class', ordered by
    where each class first appears in the (score-ordered) context; the
    items are those of answer_order='class', the class order follows the
    context, not the class index."""
    kinds = ('det_all', 'det_class')
    make = [GenerateTextInstructions(
        CLASSES, kinds=kinds, num_per_image=2,
        context_noise=dict(prob=1.0, max_extra=6), answer_order=order)
            for order in ('class', 'confidence')]
    reordered = 0
    for seed in range(10):
        out = []
        for t in make:
            np.random.seed(seed)
            out.append(t(_results())['text_conversations'])
        for x, y in zip(*out):
            assert x['context'] == y['context'] and x['kind'] == y['kind']
            ctx = [p.split(' <')[0] for p in x['context'][5:-6].split('; ')
                   if p]
            names = [p.split(' <')[0] for p in y['answer'].split('<DET>')[
                1].split('</DET>')[0].split('; ') if p]
            assert sorted(names) == sorted(
                p.split(' <')[0] for p in x['answer'].split('<DET>')[1].split(
                    '</DET>')[0].split('; ') if p)
            runs = list(dict.fromkeys(names))
            # one run per class, in the order the context first names them
            assert len(runs) == len([k for k in range(len(names)) if k == 0
                                     or names[k] != names[k - 1]])
            assert runs == [c for c in dict.fromkeys(ctx) if c in runs]
            reordered += runs != sorted(runs, key=CLASSES.index)
    assert reordered >= 3  # the contexts do put other classes first
