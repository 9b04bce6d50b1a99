"""Transforms on the captions an image-caption sample carries."""
import numpy as np
from mmcv.transforms import BaseTransform

from llava_detseg.registry import TRANSFORMS


@TRANSFORMS.register_module()
class SampleCaptions(BaseTransform):
    """Keep ``num`` random captions of the image for this training step.

    Flickr-style samples carry all captions of an image; the contrastive
    loss pairs the image with one of them per step (a second caption of the
    same image in the batch would be a false negative). Test pipelines leave
    it out: retrieval scores every caption.

    Args:
        num (int): Captions kept, in their original order.
    """

    def __init__(self, num: int = 1) -> None:
        if num < 1:
            raise ValueError(f'SampleCaptions: num must be >= 1, got {num}')
        self.num = num

    def transform(self, results: dict) -> dict:
        caps = list(results.get('captions') or [])
        if len(caps) > self.num:
            keep = np.sort(np.random.choice(len(caps), self.num,
                                            replace=False))
            results['captions'] = [caps[k] for k in keep]
        return results

    def __repr__(self) -> str:
        return f'{type(self).__name__}(num={self.num})'
