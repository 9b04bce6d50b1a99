"""mmdet's visualisation hook, for batches that hold image-level samples
and for test runs that draw every N-th sample."""
from typing import Sequence

from mmdet.engine.hooks import DetVisualizationHook

from llava_detseg.registry import HOOKS


@HOOKS.register_module()
class MultiTaskVisualizationHook(DetVisualizationHook):
    """``mmdet.DetVisualizationHook`` that passes over samples without an
    image file.

    mmdet's hook re-reads each drawn sample's image from ``img_path``;
    CIFAR-10 / Fashion-MNIST samples are decoded from arrays
    (``LoadImageFromArray``) and have none, which would stop a validation
    of a mixture that holds them. Those samples are left undrawn; every
    other sample is drawn as mmdet draws it (same arguments).

    mmdet's hook draws every test sample; ``test_interval`` draws every
    N-th (``tools/test.py --show-interval``), so that a look at a few
    predictions does not cost as much as a drawing of the whole split
    (200 shapes images: ~16 s of a 53 s evaluation).

    Args:
        test_interval (int): Draw the test samples whose index in the
            run is a multiple of it. Default 1 (all, as mmdet).
        **kwargs: ``mmdet.DetVisualizationHook``'s arguments.
    """

    def __init__(self, test_interval: int = 1, **kwargs) -> None:
        super().__init__(**kwargs)
        if int(test_interval) < 1:
            raise ValueError('MultiTaskVisualizationHook: test_interval '
                             f'must be >= 1, got {test_interval!r}')
        self.test_interval = int(test_interval)
        self._test_seen = 0  # test samples so far, drawn or not

    @staticmethod
    def _with_files(outputs: Sequence) -> list:
        return [o for o in outputs if 'img_path' in o]

    def after_val_iter(self, runner, batch_idx: int, data_batch: dict,
                       outputs: Sequence) -> None:
        drawable = self._with_files(outputs)
        if drawable:
            super().after_val_iter(runner, batch_idx, data_batch, drawable)

    def after_test_iter(self, runner, batch_idx: int, data_batch: dict,
                        outputs: Sequence) -> None:
        start, self._test_seen = self._test_seen, self._test_seen + len(
            outputs)
        outputs = [o for k, o in enumerate(outputs)
                   if (start + k) % self.test_interval == 0]
        drawable = self._with_files(outputs)
        if drawable:
            super().after_test_iter(runner, batch_idx, data_batch, drawable)
