"""MultiTaskDataPreprocessor pads semantic maps to the batch shape."""
import torch
from mmdet.structures import DetDataSample
from mmengine.structures import PixelData

from llava_detseg.models.data_preprocessors import MultiTaskDataPreprocessor


def _sample(h, w, label):
    s = DetDataSample()
    s.gt_sem_seg = PixelData(data=torch.full((1, h, w), label,
                                             dtype=torch.long))
    return s


def test_maps_of_different_sizes_are_padded_with_the_ignore_value():
    pre = MultiTaskDataPreprocessor(pad_size_divisor=32, pad_seg=True,
                                    seg_pad_value=255)
    data = dict(inputs=[torch.zeros(3, 40, 50, dtype=torch.uint8),
                        torch.zeros(3, 64, 30, dtype=torch.uint8)],
                data_samples=[_sample(40, 50, 1), _sample(64, 30, 2)])
    out = pre(data, training=True)
    assert out['inputs'].shape[-2:] == (64, 64)
    for s, (h, w), label in zip(out['data_samples'], [(40, 50), (64, 30)],
                                (1, 2)):
        seg = s.gt_sem_seg.data
        assert seg.shape == (1, 64, 64) and seg.dtype == torch.long
        assert (seg[:, :h, :w] == label).all()
        assert (seg[:, h:] == 255).all() and (seg[:, :, w:] == 255).all()
