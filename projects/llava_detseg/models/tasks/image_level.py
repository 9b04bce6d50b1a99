"""The image-level tasks: classification (``cls``) and image-text
contrastive learning (``itc``), on the pooled (routed) backbone tokens."""
from typing import Dict, List, Optional, Sequence

import torch
from mmdet.utils import OptConfigType
from torch import Tensor, nn

from llava_detseg.registry import MODELS, TASKS
from ..utils import build_in_scope
from .base import BaseTask, TaskBatch, pool_tokens


class ImageLevelTask(BaseTask):
    """A head on one pooled feature per image, read through the router's
    path of this task (one level) or, without a router, the backbone's last
    hidden state.

    Args:
        name (str): The task's name.
        head (dict, optional): The head; ``in_channels`` defaults to the
            backbone's width.
        pool (str): ``'cls'`` ([CLS] token) or ``'mean'`` (patch tokens).
        detach_backbone (bool): The task's loss stops at the backbone's
            hidden states: its head (and the router's path of the task)
            train, the ViT does not, so the task probes what the shared
            trunk keeps without pulling it away from the other tasks
            (mmpretrain's linear probing, here beside training ones).
    """
    levels = 'tokens'
    default_pool = 'cls'

    def __init__(self, name: str, head: OptConfigType = None,
                 pool: Optional[str] = None,
                 detach_backbone: bool = False) -> None:
        super().__init__(name, head)
        self.detach_backbone = detach_backbone
        self.pool = pool or self.default_pool
        if self.pool not in ('cls', 'mean'):
            raise ValueError(f'model.tasks.{name}.pool must be "cls" or '
                             f'"mean", got "{self.pool}"')

    def build_branch(self, model: nn.Module, train_cfg: dict,
                     test_cfg: dict):
        if self.head_cfg is None:
            return None
        cfg = dict(self.head_cfg)
        cfg.setdefault('in_channels', model.backbone.embed_dims)
        return build_in_scope(MODELS, cfg)

    def image_feats(self, model: nn.Module, batch: TaskBatch) -> Tensor:
        """(len(idx), C) pooled features; the routing's gates to ``aux``."""
        vit = batch.vit
        if self.detach_backbone:
            vit = vit._replace(
                hidden_states=tuple(h.detach() for h in vit.hidden_states))
        tokens, routed = model._routed_tokens(self.name, vit, batch.idx,
                                              batch.samples)
        batch.aux.extend(routed)
        return pool_tokens(tokens, self.pool)


@TASKS.register_module('cls')
class ClsTask(ImageLevelTask):
    """Image classification: ``LinearClsHead`` on the [CLS] feature;
    ``pred_score`` (C,) for ``Accuracy`` and ``ConfusionMatrix``."""
    branch = 'cls_head'
    instruction = 'What is in this image?'
    # a mixture's classification sources name their classes apart from
    # the detection classes (TaskMetric meta_keys=dict(classes=...))
    meta_keys = ('cls_classes', )
    pred_fields = ('pred_score', 'pred_label')

    def loss(self, model: nn.Module, batch: TaskBatch) -> Dict[str, Tensor]:
        return self.serving_part(model).loss(
            self.image_feats(model, batch), batch.chosen)

    @torch.no_grad()
    def predict(self, model: nn.Module, batch: TaskBatch) -> None:
        self.serving_part(model).predict(
            self.image_feats(model, batch), batch.chosen)

    def forward(self, model: nn.Module, batch: TaskBatch) -> Tensor:
        return self.serving_part(model)(self.image_feats(model, batch))


def caption_features(language: nn.Module, texts: Sequence[str],
                     encoder: str = 'llm') -> Tensor:
    """(M, D) pooled features of captions from the language branch.

    ``'llm'``: the mean of the language model's last hidden states over the
    caption's tokens (no image in the context); ``'embeddings'``: the mean
    of its input embeddings (no language-model pass, cheaper).
    """
    table = language.llava.get_input_embeddings()
    device = table.weight.device
    ids = [language.tokenizer(t, add_special_tokens=False)['input_ids']
           or [0] for t in texts]
    width = max(len(i) for i in ids)
    input_ids = torch.zeros(len(ids), width, dtype=torch.long, device=device)
    mask = torch.zeros(len(ids), width, dtype=torch.long, device=device)
    for row, seq in enumerate(ids):
        input_ids[row, :len(seq)] = torch.as_tensor(seq)
        mask[row, :len(seq)] = 1
    embeds = table(input_ids)
    if encoder == 'llm':
        embeds = language.llava.model.language_model(
            inputs_embeds=embeds, attention_mask=mask).last_hidden_state
    m = mask[..., None].to(embeds.dtype)
    return (embeds * m).sum(1) / m.sum(1)


@TASKS.register_module('itc')
class ItcTask(ImageLevelTask):
    """Image-text contrastive learning on the samples' ``captions``.

    Training pairs each image with its first caption (``SampleCaptions``
    picks one at random); identical captions in a batch count as
    positives of each other. Prediction gives ``pred_image_embed`` (D,)
    and ``pred_text_embeds`` (M, D), one row per caption, for
    ``ImageTextRetrievalRecall``. The captions are encoded by the language
    branch (:func:`caption_features`), so the itc loss also trains the
    language model (or its ``vqa`` adapters) unless ``detach_text``.

    Args:
        name (str): The task's name.
        head (dict, optional): ``ImageTextContrastiveHead``;
            ``in_channels`` / ``text_channels`` default to the backbone's
            and the language model's widths.
        pool (str): ``'mean'`` (default: the mean-pooled image feature of
            the alignment loss) or ``'cls'``.
        text_encoder (str): ``'llm'`` or ``'embeddings'``.
        detach_text (bool): No gradient into the language branch.
        detach_backbone (bool): No gradient into the backbone
            (:class:`ImageLevelTask`).
    """
    branch = 'itc_head'
    instruction = 'Describe the image briefly.'
    pred_fields = ('pred_image_embed', 'pred_text_embeds')
    default_pool = 'mean'

    def __init__(self, name: str, head: OptConfigType = None,
                 pool: Optional[str] = None, text_encoder: str = 'llm',
                 detach_text: bool = False,
                 detach_backbone: bool = False) -> None:
        super().__init__(name, head, pool, detach_backbone)
        if text_encoder not in ('llm', 'embeddings'):
            raise ValueError(f'model.tasks.{name}.text_encoder must be '
                             f'"llm" or "embeddings", got "{text_encoder}"')
        self.text_encoder = text_encoder
        self.detach_text = detach_text

    def build_branch(self, model: nn.Module, train_cfg: dict,
                     test_cfg: dict):
        if self.head_cfg is None:
            return None
        if model.language is None:
            raise ValueError(
                f'model.tasks.{self.name} needs model.language: the '
                'captions are embedded by the language branch')
        cfg = dict(self.head_cfg)
        cfg.setdefault(
            'text_channels',
            model.language.llava.get_input_embeddings().embedding_dim)
        cfg.setdefault('in_channels', model.backbone.embed_dims)
        return build_in_scope(MODELS, cfg)

    def _texts(self, model: nn.Module, texts: List[str]) -> Tensor:
        language = model.language
        if self.detach_text or not torch.is_grad_enabled():
            with torch.no_grad():
                return caption_features(language, texts, self.text_encoder)
        return caption_features(language, texts, self.text_encoder)

    @staticmethod
    def _captions(sample) -> List[str]:
        caps = list(sample.metainfo.get('captions') or [])
        if not caps:
            raise ValueError(
                f'task itc: sample {sample.metainfo.get("img_path")} has no '
                'captions (its dataset must give them, and '
                'PackMultiTaskInputs keep "captions" in meta_keys)')
        return caps

    def loss(self, model: nn.Module, batch: TaskBatch) -> Dict[str, Tensor]:
        head = self.serving_part(model)
        texts = [self._captions(s)[0] for s in batch.chosen]
        positives = torch.tensor([[a == b for b in texts] for a in texts])
        return head.loss(self.image_feats(model, batch),
                         self._texts(model, texts), positives)

    @torch.no_grad()
    def predict(self, model: nn.Module, batch: TaskBatch) -> None:
        head = self.serving_part(model)
        images = head.embed_image(self.image_feats(model, batch))
        caps = [self._captions(s) for s in batch.chosen]
        texts = head.embed_text(
            self._texts(model, [c for per in caps for c in per]))
        start = 0
        for sample, img, per in zip(batch.chosen, images, caps):
            sample.pred_image_embed = img.float().cpu()
            sample.pred_text_embeds = texts[start:start + len(per)].float(
            ).cpu()
            start += len(per)

    def forward(self, model: nn.Module, batch: TaskBatch) -> Tensor:
        return self.serving_part(model).embed_image(
            self.image_feats(model, batch))
