"""The dense tasks: detection (mmdet's FCOS head) and segmentation (an mmseg
decode head) on the neck's pyramid of the (routed) backbone."""
from typing import Dict

from torch import Tensor, nn

from llava_detseg.registry import MODELS, TASKS
from ..detectors.dense_heads import head_loss, seg_predictions
from ..utils import build_in_scope
from .base import BaseTask, TaskBatch, sample_tasks


class DenseTask(BaseTask):
    """A head on the neck's pyramid; ``train_cfg`` / ``test_cfg`` entries
    named after the task reach an mmdet head."""
    levels = 'pyramid'
    # the grounded text answers ask the heads for these samples too
    grounded_requests = True

    def selects(self, sample, requests, grounded: bool) -> bool:
        return self.name in sample_tasks(sample) or (
            grounded and any(getattr(r, self.name, None) is not None
                             for r in requests))

    def loss(self, model: nn.Module, batch: TaskBatch) -> Dict[str, Tensor]:
        x, routed = model._routed_feats(self.name, batch.feats, batch.vit,
                                        batch.idx, batch.samples)
        batch.aux.extend(routed)
        losses, batch.head_outs[self.name] = head_loss(
            self.name, self.serving_part(model), x, batch.chosen)
        return losses

    def forward(self, model: nn.Module, batch: TaskBatch):
        return self.serving_part(model)(model._task_feats(
            self.name, batch.feats, batch.vit, batch.idx, None))


@TASKS.register_module('det')
class DetTask(DenseTask):
    """Boxes and classes: ``pred_instances`` for mmdet's ``CocoMetric``."""
    branch = 'det_head'
    instruction = 'Detect all objects.'
    meta_keys = ('classes', 'palette')
    pred_fields = ('pred_instances', )

    def build_branch(self, model, train_cfg: dict, test_cfg: dict):
        if self.head_cfg is None:
            return None
        cfg = dict(self.head_cfg)
        cfg.update(train_cfg=train_cfg.get('det'),
                   test_cfg=test_cfg.get('det'))
        return build_in_scope(MODELS, cfg)

    def predict(self, model: nn.Module, batch: TaskBatch) -> None:
        x = model._task_feats(self.name, batch.feats, batch.vit, batch.idx,
                              batch.samples)
        samples = batch.chosen
        results = self.serving_part(model).predict(x, samples, rescale=True)
        for sample, res in zip(samples, results):
            sample.pred_instances = res


@TASKS.register_module('seg')
class SegTask(DenseTask):
    """A label map: ``pred_sem_seg`` for mmseg's ``IoUMetric``."""
    branch = 'seg_head'
    instruction = 'Segment the image.'
    meta_keys = ('seg_classes', 'seg_palette')
    pred_fields = ('pred_sem_seg', )

    def predict(self, model: nn.Module, batch: TaskBatch) -> None:
        x = model._task_feats(self.name, batch.feats, batch.vit, batch.idx,
                              batch.samples)
        samples = batch.chosen
        for sample, seg in zip(
                samples, seg_predictions(self.serving_part(model), x,
                                         samples)):
            sample.pred_sem_seg = seg
