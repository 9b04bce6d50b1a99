"""RandomAspectPad: one side padded, every object kept where it was drawn."""
import numpy as np
import pytest
from mmdet.structures.bbox import HorizontalBoxes
from mmdet.structures.mask import BitmapMasks, PolygonMasks

from llava_detseg.datasets.transforms import RandomAspectPad


def _results(h=40, w=60):
    img = np.full((h, w, 3), 7, np.uint8)
    img[10:20, 30:45] = 200  # one object
    seg = np.zeros((h, w), np.uint8)
    seg[10:20, 30:45] = 1
    return dict(img=img, img_shape=(h, w), gt_seg_map=seg,
                gt_bboxes=HorizontalBoxes(np.array([[30., 10, 45, 20]],
                                                   np.float32)),
                gt_masks=BitmapMasks(seg[None].copy(), h, w))


def test_pads_one_side_and_moves_the_annotations_with_the_pixels():
    np.random.seed(0)
    sides = set()
    for _ in range(40):
        out = RandomAspectPad(max_ratio=2.0, prob=1.0)(_results())
        h, w = out['img'].shape[:2]
        assert out['img_shape'] == (h, w)
        assert (h == 40) != (w == 60) or (h, w) == (40, 60)
        assert 40 <= h <= 80 and 60 <= w <= 120
        sides.add('w' if w > 60 else 'h' if h > 40 else '-')
        x1, y1, x2, y2 = out['gt_bboxes'].tensor[0].int().tolist()
        # the box still frames the object's pixels and its label
        assert (out['img'][y1:y2, x1:x2] == 200).all()
        assert (out['gt_seg_map'][y1:y2, x1:x2] == 1).all()
        assert out['gt_masks'].masks[0, y1:y2, x1:x2].all()
        assert out['gt_masks'].masks.sum() == 150
        assert (out['img'] == 200).sum() == 150 * 3
        # edge mode: the padding repeats the background; the map ignores it
        assert (out['gt_seg_map'] == 255).sum() == h * w - 40 * 60
        assert set(np.unique(out['img'])) == {7, 200}
    assert sides >= {'w', 'h'}


def test_prob_zero_and_constant_mode():
    res = _results()
    assert RandomAspectPad(prob=0.0)(dict(res))['img'] is res['img']
    np.random.seed(1)
    out = RandomAspectPad(max_ratio=3.0, prob=1.0, padding_mode='constant',
                          pad_val=0)(_results())
    assert out['img'].shape != (40, 60, 3) and (out['img'] == 0).any()


def test_bad_settings_and_polygon_masks_are_refused():
    for kw, match in ((dict(max_ratio=1.0), 'max_ratio'),
                      (dict(prob=2), 'prob'),
                      (dict(padding_mode='wrap'), 'padding_mode')):
        with pytest.raises(ValueError, match=match):
            RandomAspectPad(**kw)
    res = _results()
    res['gt_masks'] = PolygonMasks([[np.array([30., 10, 45, 10, 45, 20])]],
                                   40, 60)
    np.random.seed(0)
    with pytest.raises(ValueError, match='poly2mask'):
        for _ in range(10):  # until one pads
            RandomAspectPad(prob=1.0)(dict(res))
