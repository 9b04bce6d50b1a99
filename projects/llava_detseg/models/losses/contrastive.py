"""Image-text losses: InfoNCE (both directions) and the cross-modal
alignment loss (negative cosine similarity)."""
from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from llava_detseg.registry import MODELS


def info_nce_loss(image: Tensor, text: Tensor, logit_scale: Tensor,
                  positives: Optional[Tensor] = None) -> Tensor:
    """Symmetric InfoNCE of paired (N, D) image and text embeddings.

    CLIP's loss: cosine similarities times ``exp(logit_scale)`` (the
    inverse temperature), cross-entropy image->text over the texts and
    text->image over the images, averaged. ``positives`` (N, N) bool marks
    further matches (e.g. two images with the same caption): the target is
    then uniform over a row's positives instead of one-hot, so a duplicate
    caption is not pushed away as a negative.
    """
    image = F.normalize(image.float(), dim=-1)
    text = F.normalize(text.float(), dim=-1)
    logits = logit_scale.float().exp() * image @ text.t()
    n = logits.shape[0]
    eye = torch.eye(n, dtype=torch.bool, device=logits.device)
    pos = eye if positives is None else (positives.to(logits.device) | eye)
    target = pos.float() / pos.sum(1, keepdim=True)
    target_t = pos.t().float() / pos.t().sum(1, keepdim=True)
    return 0.5 * (F.cross_entropy(logits, target) +
                  F.cross_entropy(logits.t(), target_t))


def cross_modal_alignment_loss(image: Tensor, text: Tensor) -> Tensor:
    """Mean negative cosine similarity of paired (N, D) features."""
    return -F.cosine_similarity(image.float(), text.float(), dim=-1).mean()


@MODELS.register_module()
class InfoNCELoss(nn.Module):
    """``loss_weight`` x :func:`info_nce_loss`.

    Args:
        loss_weight (float): Weight of the loss.
    """

    def __init__(self, loss_weight: float = 0.1) -> None:
        super().__init__()
        self.loss_weight = loss_weight

    def forward(self, image: Tensor, text: Tensor, logit_scale: Tensor,
                positives: Optional[Tensor] = None) -> Tensor:
        return self.loss_weight * info_nce_loss(image, text, logit_scale,
                                                positives)


@MODELS.register_module()
class CrossModalAlignmentLoss(nn.Module):
    """``loss_weight`` x :func:`cross_modal_alignment_loss`.

    Args:
        loss_weight (float): Weight of the loss.
    """

    def __init__(self, loss_weight: float = 0.1) -> None:
        super().__init__()
        self.loss_weight = loss_weight

    def forward(self, image: Tensor, text: Tensor) -> Tensor:
        return self.loss_weight * cross_modal_alignment_loss(image, text)
