"""Transforms on the conversations a sample carries."""
from typing import Optional

import numpy as np
from mmcv.transforms import BaseTransform

from llava_detseg.registry import TRANSFORMS


@TRANSFORMS.register_module()
class SampleConversations(BaseTransform):
    """Keep a random subset of an image's conversations for this step.

    All of an image's questions share its single backbone pass, so training
    on several at once is cheap; ``max_num`` bounds the language-model batch.

    Args:
        max_num (int, optional): Most conversations kept (``None``: all).
    """

    def __init__(self, max_num: Optional[int] = None) -> None:
        if max_num is not None and max_num < 1:
            raise ValueError(f'SampleConversations: max_num must be >= 1, '
                             f'got {max_num}')
        self.max_num = max_num

    def transform(self, results: dict) -> dict:
        convs = results.get('conversations') or []
        if self.max_num is not None and len(convs) > self.max_num:
            keep = np.random.choice(len(convs), self.max_num, replace=False)
            results['conversations'] = [convs[i] for i in sorted(keep)]
        return results

    def __repr__(self) -> str:
        return f'{type(self).__name__}(max_num={self.max_num})'
