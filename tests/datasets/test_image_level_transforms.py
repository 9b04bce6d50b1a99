"""LoadImageFromArray, SampleCaptions and the gt_label / captions packing."""
import numpy as np
import pytest
import torch

from llava_detseg.datasets import DataError
from llava_detseg.datasets.transforms import (ImageLevelConversations,
                                              LoadImageFromArray,
                                              MergeConversations,
                                              PackMultiTaskInputs,
                                              SampleCaptions)
from llava_detseg.models.language.conversation import DETACH_IMAGE


def test_arrays_become_bgr_three_channel_images():
    rgb = np.zeros((4, 5, 3), np.uint8)
    rgb[..., 0] = 9  # red
    out = LoadImageFromArray()(dict(img=rgb.copy(), img_id=0))
    assert out['img'].shape == (4, 5, 3) and out['img'][0, 0].tolist() == \
        [0, 0, 9]
    assert out['img_shape'] == out['ori_shape'] == (4, 5)
    bgr = LoadImageFromArray(channel_order='bgr')(dict(img=rgb.copy()))
    assert bgr['img'][0, 0].tolist() == [9, 0, 0]
    for gray in (np.full((3, 2), 7, np.uint8), np.full((3, 2, 1), 7,
                                                       np.uint8)):
        out = LoadImageFromArray()(dict(img=gray))
        assert out['img'].shape == (3, 2, 3) and (out['img'] == 7).all()
    out = LoadImageFromArray(to_float32=True)(dict(img=rgb))
    assert out['img'].dtype == np.float32


def test_bad_arrays_are_named_or_skipped():
    cases = [(np.zeros((4, 4), np.float32), 'expected a uint8 array, got '
              'float32'),
             (np.zeros((4, 4, 4), np.uint8), r'expected an \(H, W\) or \(H, W, '
              r'3\) array, got shape \(4, 4, 4\)')]
    for img, message in cases:
        with pytest.raises(DataError, match='batch_1: sample image id 3, '
                           'field "img": ' + message):
            LoadImageFromArray()(dict(img=img, img_id=3,
                                      img_source='batch_1'))
    skip = LoadImageFromArray(on_error='skip')
    assert skip(dict(img=cases[1][0], img_id=1)) is None
    assert skip.policy.skipped == {'image': 1}
    with pytest.raises(ValueError, match='channel_order'):
        LoadImageFromArray(channel_order='gray')


def test_sample_captions_keeps_order_and_count():
    np.random.seed(0)
    caps = [f'c{i}' for i in range(5)]
    seen = set()
    for _ in range(20):
        kept = SampleCaptions(num=2)(dict(captions=list(caps)))['captions']
        assert len(kept) == 2 and kept == sorted(kept, key=caps.index)
        seen.update(kept)
    assert seen == set(caps)
    assert SampleCaptions(num=9)(dict(captions=caps))['captions'] == caps
    with pytest.raises(ValueError, match='num must be >= 1'):
        SampleCaptions(num=0)


def test_pack_adds_gt_label_and_captions_only_when_present():
    img = np.zeros((4, 4, 3), np.uint8)
    base = dict(img=img, img_shape=(4, 4), ori_shape=(4, 4), img_id=0)
    packed = PackMultiTaskInputs()(dict(base, gt_label=7,
                                        captions=['a', 'b']))
    sample = packed['data_samples']
    assert sample.gt_label.dtype == torch.int64
    assert sample.gt_label.tolist() == [7] and sample.captions == ['a', 'b']
    plain = PackMultiTaskInputs()(dict(base))['data_samples']
    assert 'gt_label' not in plain and 'captions' not in plain


def test_image_level_conversations_ask_the_class_and_the_caption():
    old = [[dict(value='<image>\nHow many?'), dict(value='2')]]
    base = dict(gt_label=1, captions=['a red square', 'other'],
                conversations=list(old), tasks=['det'], img_path='x.png')
    add = ImageLevelConversations(('circle', 'square'))
    out = add(dict(base))
    assert out['conversations'][0] == old[0]
    assert [[t['value'] for t in c] for c in out['conversations'][1:]] == [
        ['<image>\nWhat is in this image?', 'square'],
        ['<image>\nDescribe the image briefly.', 'a red square']]
    assert out['tasks'] == ['det', 'vqa']  # the language branch serves it
    # scored questions with their answer types; only the class if asked
    test = ImageLevelConversations(('circle', 'square'), tasks=['cls'],
                                   label_question='Which?', as_questions=True)
    out = test(dict(base))
    assert out['conversations'] == old and out['vqa_questions'] == [
        dict(question='Which?', answers=['square'],
             meta=dict(answer_type='class'))]
    # nothing to ask: the sample is left as it is
    plain = dict(conversations=list(old), tasks=['vqa'])
    assert add(dict(plain)) == plain
    with pytest.raises(ValueError, match='x.png: gt_label 5 is not an index '
                       'of the 2 classes'):
        add(dict(base, gt_label=5))
    for bad in ([], ['vqa']):
        with pytest.raises(ValueError, match='tasks must name "cls"'):
            ImageLevelConversations(('circle', ), tasks=bad)
    with pytest.raises(ValueError, match='needs classes'):
        ImageLevelConversations((), tasks=['cls'])
    assert ImageLevelConversations((), tasks=['itc'])(dict(base))[
        'conversations'][-1][1]['value'] == 'a red square'
    # detach_image flags the new conversations' first turn, not the old
    out = ImageLevelConversations(('circle', 'square'),
                                  detach_image=True)(dict(base))
    assert [bool(c[0].get(DETACH_IMAGE)) for c in out['conversations']] == [
        False, True, True]


def test_merge_conversations_reads_the_image_once_in_a_random_order():
    convs = [[dict(value=f'<image>\nq{i}'), dict(value=f'a{i}')]
             for i in range(5)]
    np.random.seed(0)
    orders = set()
    for _ in range(20):
        out = MergeConversations()(dict(conversations=list(convs)))
        merged, = out['conversations']
        values = [t['value'] for t in merged]
        assert sum(v.count('<image>') for v in values) == 1
        assert values[0].startswith('<image>\n')
        pairs = [(values[k].replace('<image>\n', ''), values[k + 1])
                 for k in range(0, len(values), 2)]
        assert sorted(pairs) == [(f'q{i}', f'a{i}') for i in range(5)]
        orders.add(tuple(pairs))
    assert len(orders) > 5  # drawn anew each time
    split = MergeConversations(max_turns=2)(dict(conversations=list(convs)))
    assert [len(c) for c in split['conversations']] == [4, 4, 2]
    assert all(sum(t['value'].count('<image>') for t in c) == 1
               for c in split['conversations'])
    one = dict(conversations=convs[:1])
    assert MergeConversations()(dict(one)) == one
    # conversations that read the image detached are merged apart
    flag = DETACH_IMAGE
    detached = [[dict(value=f'<image>\nd{i}', **{flag: True}),
                 dict(value=f'e{i}')] for i in range(2)]
    out = MergeConversations()(dict(conversations=convs + detached))
    plain, apart = out['conversations']
    assert not plain[0].get(flag) and apart[0][flag] is True
    assert sorted(t['value'] for t in apart) == [
        '<image>\nd0', 'd1', 'e0', 'e1'] or sorted(
            t['value'] for t in apart) == ['<image>\nd1', 'd0', 'e0', 'e1']
    assert len(plain) == 10
    with pytest.raises(ValueError, match='max_turns must be >= 1'):
        MergeConversations(max_turns=0)
