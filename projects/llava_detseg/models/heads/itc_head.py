"""The image-text contrastive head: both sides projected to one space."""
import math
from typing import Dict, Optional

import torch
from mmdet.utils import ConfigType, OptConfigType
from mmengine.model import BaseModule
from torch import Tensor, nn

from llava_detseg.registry import MODELS


@MODELS.register_module()
class ImageTextContrastiveHead(BaseModule):
    """Project pooled image and caption features into one embedding space
    and train it with InfoNCE and the cross-modal alignment loss.

    CLIP's recipe: a linear projection per side, a learnable temperature
    (stored as ``logit_scale = log(1 / T)``, clamped at ``log(100)`` as
    CLIP does), InfoNCE over the batch in both directions; beside it the
    alignment term of Diff-MoE (negative cosine similarity of the paired
    mean-pooled features, here in the common space since the two sides
    differ in width).

    Args:
        in_channels (int): Width of the pooled image feature.
        text_channels (int): Width of the pooled caption feature.
        embed_dims (int): Width of the common space.
        init_temperature (float): Initial ``T`` (CLIP: 0.07).
        max_logit_scale (float): Upper clamp of ``exp(logit_scale)``.
        loss_contrastive (dict): ``InfoNCELoss`` config (weight 0.1).
        loss_align (dict, optional): ``CrossModalAlignmentLoss`` config
            (weight 0.1); None: off.
        init_cfg (dict, optional): Init config.
    """

    def __init__(self,
                 in_channels: int,
                 text_channels: int,
                 embed_dims: int = 256,
                 init_temperature: float = 0.07,
                 max_logit_scale: float = 100.0,
                 loss_contrastive: ConfigType = dict(
                     type='InfoNCELoss', loss_weight=0.1),
                 loss_align: OptConfigType = dict(
                     type='CrossModalAlignmentLoss', loss_weight=0.1),
                 init_cfg: OptConfigType = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if init_temperature <= 0:
            raise ValueError('ImageTextContrastiveHead: init_temperature '
                             f'must be > 0, got {init_temperature}')
        self.image_proj = nn.Linear(in_channels, embed_dims)
        self.text_proj = nn.Linear(text_channels, embed_dims)
        # (1,) rather than 0-dim: FSDP refuses 0-dim parameters
        self.logit_scale = nn.Parameter(
            torch.full((1, ), math.log(1.0 / init_temperature)))
        self.max_log_scale = math.log(max_logit_scale)
        self.loss_contrastive = MODELS.build(loss_contrastive)
        self.loss_align = MODELS.build(loss_align) if loss_align else None

    def embed_image(self, feats: Tensor) -> Tensor:
        """(B, in_channels) to (B, embed_dims)."""
        return self.image_proj(feats.to(self.image_proj.weight.dtype))

    def embed_text(self, feats: Tensor) -> Tensor:
        """(M, text_channels) to (M, embed_dims)."""
        return self.text_proj(feats.to(self.text_proj.weight.dtype))

    def scale(self) -> Tensor:
        """The clamped ``logit_scale`` (a scalar)."""
        return self.logit_scale.clamp(max=self.max_log_scale)[0]

    def loss(self, image_feats: Tensor, text_feats: Tensor,
             positives: Optional[Tensor] = None) -> Dict[str, Tensor]:
        """Losses of N paired features (row i of each side is a pair)."""
        img = self.embed_image(image_feats)
        txt = self.embed_text(text_feats)
        scale = self.scale()
        out = dict(loss_contrastive=self.loss_contrastive(
            img, txt, scale, positives))
        if self.loss_align is not None:
            out['loss_align'] = self.loss_align(img, txt)
        out['temperature'] = (1.0 / scale.detach().exp())
        return out
