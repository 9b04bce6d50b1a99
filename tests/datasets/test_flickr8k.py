"""Flickr8kDataset: token file, split lists and image folder as published."""
import os.path as osp

import pytest
from mmengine.registry import init_default_scope

from image_level_files import FLICKR_SPLITS, flickr_caption, write_flickr8k
from llava_detseg.datasets import CAPTION_PROMPT, DataError, Flickr8kDataset

PIPELINE = [
    dict(type='LoadImageWithCheck'),
    dict(type='mmdet.Resize', scale=(32, 32), keep_ratio=False),
    dict(type='SampleConversations', max_num=2),
    dict(type='SampleCaptions', num=1),
    dict(type='PackMultiTaskInputs'),
]


def _dataset(root, **kwargs):
    init_default_scope('llava_detseg')
    kwargs.setdefault('pipeline', PIPELINE)
    return Flickr8kDataset(data_root=root, **kwargs)


def test_splits_hold_their_images_with_five_captions_in_order(tmp_path):
    root = write_flickr8k(str(tmp_path))
    for split, names in FLICKR_SPLITS.items():
        ds = _dataset(root, split=split)
        assert [ds.get_data_info(i)['img_id'] for i in range(len(ds))] == \
            names
    info = _dataset(root, split='test').get_data_info(1)
    assert info['img_path'] == osp.join(root, 'Flicker8k_Dataset', 'f.jpg')
    assert info['captions'] == [flickr_caption('f.jpg', n) for n in range(5)]
    assert info['tasks'] == ['itc', 'vqa']
    human, gpt = info['conversations'][3]
    assert human['value'] == f'<image>\n{CAPTION_PROMPT}'
    assert gpt == {'from': 'gpt', 'value': flickr_caption('f.jpg', 3)}
    assert len(_dataset(root, split=None)) == 6


def test_pipeline_packs_captions_and_conversations(tmp_path):
    root = write_flickr8k(str(tmp_path))
    out = _dataset(root)[0]
    sample = out['data_samples']
    assert out['inputs'].shape == (3, 32, 32)
    assert len(sample.captions) == 1
    assert sample.captions[0] in [flickr_caption('a.jpg', n)
                                  for n in range(5)]
    assert len(sample.conversations) == 2 and sample.tasks == ['itc', 'vqa']
    test = _dataset(root, split='test', test_mode=True, tasks=('itc', ),
                    pipeline=PIPELINE[:2] + PIPELINE[-1:])
    sample = test[0]['data_samples']
    assert len(sample.captions) == 5 and 'conversations' not in sample
    assert sample.tasks == ['itc'] and 'benchmark' not in sample
    tagged = _dataset(root, benchmark='flickr8k')[0]['data_samples']
    assert tagged.benchmark == 'flickr8k'


def test_caption_line_without_number_is_named_or_skipped(tmp_path):
    root = write_flickr8k(str(tmp_path),
                          extra_lines=['a.jpg\ta caption with no number'])
    token = osp.join(root, 'Flickr8k.token.txt')
    with pytest.raises(DataError) as e:
        _dataset(root)
    assert str(e.value) == (
        f'{token}: sample line 31, field "image#n": expected "image.jpg#n" '
        "(n the caption number), got 'a.jpg'")
    ds = _dataset(root, on_error='skip')
    assert len(ds) == 3 and ds.policy.skipped == {'caption': 1}
    assert len(ds.get_data_info(0)['captions']) == 5


@pytest.mark.parametrize('line, message', [
    ('a.jpg#7 no tab here', 'field "caption": expected "image.jpg#n<TAB>'),
    ('a.jpg#8\t  ', 'field "caption": empty caption'),
    ('a.jpg#2\tagain', 'field "image#n": caption #2 of a.jpg given twice'),
])
def test_other_caption_line_faults(tmp_path, line, message):
    root = write_flickr8k(str(tmp_path), extra_lines=[line])
    with pytest.raises(DataError, match=message):
        _dataset(root)


def test_caption_for_an_image_not_in_the_folder(tmp_path):
    root = write_flickr8k(str(tmp_path), skip_images=['b.jpg'])
    token = osp.join(root, 'Flickr8k.token.txt')
    missing = osp.join(root, 'Flicker8k_Dataset', 'b.jpg')
    with pytest.raises(DataError) as e:
        _dataset(root)
    assert str(e.value) == (
        f'{token}: sample line 6 "b.jpg", field "image": captions an image '
        f'that is not in the folder ({missing} does not exist)')
    ds = _dataset(root, on_error='skip')
    assert [ds.get_data_info(i)['img_id'] for i in range(len(ds))] == \
        ['a.jpg', 'c.jpg']
    assert ds.policy.skipped == {'image': 1}
    # the split's images only: the dev split does not need b.jpg
    assert len(_dataset(root, split='dev')) == 1


def test_split_image_without_caption_and_missing_files(tmp_path):
    root = write_flickr8k(str(tmp_path))
    with open(osp.join(root, 'Flickr_8k.devImages.txt'), 'a') as f:
        f.write('z.jpg\n')
    with pytest.raises(DataError, match='devImages.txt: sample line 2 '
                       '"z.jpg", field "captions": no caption'):
        _dataset(root, split='dev')
    assert len(_dataset(root, split='dev', on_error='skip')) == 1
    with pytest.raises(DataError, match='field "file": split file does not'):
        _dataset(root, split_file='nope.txt')
    with pytest.raises(DataError, match='no usable image'):
        _dataset(root, split='dev', split_file=None, on_error='skip',
                 data_prefix=dict(img='elsewhere/'))
    with pytest.raises(ValueError, match='split must be one of'):
        _dataset(root, split='val')
    with pytest.raises(ValueError, match='tasks must be'):
        _dataset(root, tasks=('cls', ))
