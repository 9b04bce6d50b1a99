"""Adaptive layer selection for the language branch."""
from typing import Optional

import torch
from mmengine.model import BaseModule
from torch import Tensor, nn

from llava_detseg.registry import MODELS


@MODELS.register_module()
class AdaptiveLayerSelector(BaseModule):
    """A light classifier that picks the ViT layer the language branch reads.

    It sees the image's [CLS] feature of the last layer and the instruction
    embedding and predicts a distribution over the candidate layers. With
    ``mode='hard'`` training evaluates the answer loss for the ``top_k``
    most likely candidates and teaches the classifier, by cross-entropy, the
    candidate with the least loss; inference takes the argmax. With
    ``mode='soft'`` the candidates are mixed by the predicted distribution,
    so the answer loss trains the classifier directly.

    Args:
        in_channels (int): Width of the [CLS] feature.
        instruction_dims (int): Width of the instruction embedding (0: none).
        num_layers (int): Number of candidate layers.
        hidden_dims (int): Hidden width of the classifier.
        top_k (int): Candidates evaluated per image in hard training.
        mode (str): ``'hard'`` or ``'soft'``.
        loss_weight (float): Weight of the classifier's cross-entropy.
        init_cfg (dict, optional): Init config.
    """

    def __init__(self,
                 in_channels: int,
                 instruction_dims: int,
                 num_layers: int,
                 hidden_dims: int = 64,
                 top_k: int = 2,
                 mode: str = 'hard',
                 loss_weight: float = 0.1,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if mode not in ('hard', 'soft'):
            raise ValueError(f'AdaptiveLayerSelector: mode must be "hard" or '
                             f'"soft", got "{mode}"')
        if not 1 <= top_k <= num_layers:
            raise ValueError(f'AdaptiveLayerSelector: top_k must be in '
                             f'1..{num_layers} (the candidate layers), got '
                             f'{top_k}')
        self.instruction_dims = instruction_dims
        self.num_layers, self.top_k = num_layers, top_k
        self.mode, self.loss_weight = mode, loss_weight
        self.norm = nn.LayerNorm(in_channels)
        self.mlp = nn.Sequential(
            nn.Linear(in_channels + instruction_dims, hidden_dims), nn.GELU(),
            nn.Linear(hidden_dims, num_layers))

    def forward(self, cls_feat: Tensor,
                instruction: Optional[Tensor] = None) -> Tensor:
        """(B, num_layers) logits from (B, C) [CLS] and (B, D) instruction."""
        x = self.norm(cls_feat)
        if self.instruction_dims:
            if instruction is None:
                instruction = x.new_zeros(x.shape[0], self.instruction_dims)
            x = torch.cat([x, instruction.to(x.dtype)], dim=-1)
        return self.mlp(x)
