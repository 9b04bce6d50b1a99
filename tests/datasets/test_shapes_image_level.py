"""The shapes dataset's image-level labels and captions, derived from its
instance annotations."""
import pytest

from llava_detseg.datasets import ShapesDataset
from llava_detseg.datasets.shapes import dominant_class, shapes_caption

CLASSES = ('circle', 'square', 'triangle')
CAT2LABEL = {1: 0, 2: 1, 3: 2}


def _ann(i, cat, area, y, color):
    return dict(id=i, category_id=cat, area=area, bbox=[0, y, 10, 10],
                color=color)


def test_label_is_the_class_covering_most_area():
    anns = [_ann(1, 1, 50, 0, 'red'), _ann(2, 2, 30, 0, 'blue'),
            _ann(3, 2, 30, 0, 'green')]
    assert dominant_class(anns, CAT2LABEL) == 1  # two squares: 60 > 50
    assert dominant_class(anns[:1] + [_ann(4, 3, 50, 0, 'red')],
                          CAT2LABEL) == 0  # a tie: the lower index
    assert dominant_class([], CAT2LABEL) is None


def test_caption_names_shapes_colours_and_rows_largest_first():
    anns = [_ann(1, 1, 20, 80, 'red'), _ann(2, 3, 90, 0, 'blue'),
            _ann(3, 2, 40, 45, 'yellow')]
    assert shapes_caption(anns, CAT2LABEL, CLASSES, 100) == (
        'a blue triangle at the top, a yellow square in the middle and a '
        'red circle at the bottom')
    assert shapes_caption(anns[:1], CAT2LABEL, CLASSES, 100) == \
        'a red circle at the bottom'


def _dataset(root, tasks, split='val'):
    return ShapesDataset(
        data_root=root, ann_file=f'annotations/instances_{split}.json',
        conv_file=f'annotations/llava_{split}.json',
        data_prefix=dict(img=f'images/{split}/', seg=f'semantic/{split}/'),
        seg_map_suffix='.png', tasks=tasks, test_mode=True, pipeline=[])


def test_dataset_serves_cls_and_itc_only_when_asked(shapes_root):
    plain = _dataset(shapes_root, ('det', 'seg', 'vqa'))
    info = plain.get_data_info(0)
    assert 'gt_label' not in info and 'captions' not in info
    assert set(info['tasks']) <= {'det', 'seg', 'vqa'}
    both = _dataset(shapes_root, ('det', 'seg', 'vqa', 'cls', 'itc'))
    for i in range(len(both)):
        info = both.get_data_info(i)
        labels = [x['bbox_label'] for x in info['instances']]
        assert info['gt_label'] in labels
        assert {'cls', 'itc'} <= set(info['tasks'])
        caption = info['captions'][0]
        assert caption.count(' a ') + 1 == len(labels), caption
    with pytest.raises(ValueError, match=r"tasks \['ocr'\] are not served"):
        _dataset(shapes_root, ('det', 'ocr'))
