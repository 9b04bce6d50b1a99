"""The language task: answers to the samples' conversations (LLaVA), read
from the projected (routed) image tokens."""
from typing import Dict

from torch import Tensor, nn

from llava_detseg.registry import MODELS, TASKS
from ..language.conversation import with_context
from .base import BaseTask, TaskBatch


@TASKS.register_module('vqa')
class VqaTask(BaseTask):
    """The language branch's answer loss; the answers themselves come from
    the model's one answer path (``responder.answer_requests``), so this part
    predicts nothing by itself."""
    branch = 'language'
    instruction = 'Describe the image.'
    questions_as_instruction = True
    selects_layer = True
    pred_fields = ('responses', 'pred_answer')
    predicts = False

    @property
    def output_key(self) -> str:
        return 'image_tokens'

    def build_branch(self, model: nn.Module, train_cfg: dict,
                     test_cfg: dict):
        if self.head_cfg is None:
            return None
        language = MODELS.build(self.head_cfg)
        if language.vision_hidden_size != model.backbone.embed_dims:
            raise ValueError(
                'language branch expects vision features of width '
                f'{language.vision_hidden_size} but the backbone gives '
                f'{model.backbone.embed_dims}; load both from matching '
                'checkpoints')
        return language

    def loss(self, model: nn.Module, batch: TaskBatch) -> Dict[str, Tensor]:
        """The answer losses (routed, or distilled, or plain); the
        routings' gate outputs go to ``batch.aux``."""
        convs, owner = [], []
        text = model.text
        for row, i in enumerate(batch.idx):
            sample = batch.samples[i]
            # grounded VQA (text_cfg.vqa_context): the annotated boxes in
            # front of the questions, where prediction puts the head's
            context = text.vqa_train_context(sample) if text else ''
            after = text is not None and text.vqa_context_after_question
            for conv in sample.metainfo.get('conversations', []):
                convs.append(with_context(conv, context, after))
                owner.append(row)
        if not convs:
            return {}
        language = self.serving_part(model)
        n = len(batch.samples)
        hidden = model._select(batch.vit.hidden_states, batch.idx, n)
        if model.router is not None:
            losses, routed = model.router.vqa_loss(
                language, hidden,
                model._instruction(self.name, batch.idx, batch.samples,
                                   hidden[0]), convs, owner)
        else:
            tokens, routed = language.image_tokens(hidden, return_aux=True)
            if model.distiller is not None:
                losses = model.distiller.vqa_loss(
                    model, model._select([batch.inputs], batch.idx, n)[0],
                    tokens, convs, owner)
            else:
                losses = language.loss(tokens, convs, owner)
        batch.aux.extend(routed)
        return losses

    def forward(self, model: nn.Module, batch: TaskBatch):
        return model._vqa_tokens(batch.vit, batch.idx, None)
