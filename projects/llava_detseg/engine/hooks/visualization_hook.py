"""mmdet's visualisation hook, for batches that hold image-level samples."""
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
    """

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
        drawable = self._with_files(outputs)
        if drawable:
            super().after_test_iter(runner, batch_idx, data_batch, drawable)
