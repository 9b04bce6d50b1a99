"""CLIP-ViT backbone with hidden-state taps, wrapping transformers."""
from typing import NamedTuple, Optional, Sequence, Tuple, Union

import torch
from mmengine.model import BaseModule
from torch import Tensor

from llava_detseg.registry import MODELS
from ..utils import load_hf_model


class ViTOutputs(NamedTuple):
    """What the backbone returns: computed once, shared by every branch.

    Attributes:
        maps (tuple[Tensor]): (B, C, H/p, W/p) maps of the tapped layers, for
            the dense heads.
        hidden_states (tuple[Tensor]): every layer's (B, 1 + HW/p^2, C)
            tokens, CLS first (index 0 = embeddings, i = after layer i), for
            the language branch.
    """
    maps: Tuple[Tensor, ...]
    hidden_states: Tuple[Tensor, ...]


@MODELS.register_module()
class CLIPViTBackbone(BaseModule):
    """A transformers ``CLIPVisionModel`` that returns several layers as maps.

    The position embeddings are interpolated for inputs of other sizes than
    the checkpoint's ``image_size``, so detection and segmentation can run at
    their own resolution.

    Args:
        pretrained (str): Hub id or local folder of a ``CLIPVisionModel``
            (e.g. ``openai/clip-vit-large-patch14-336``).
        out_indices (Sequence[int]): 1-based layers to return as maps
            (6/12/18/24 for ViT-L; negative indices count from the end).
        frozen (bool): Freeze all weights and keep the module in eval mode.
        torch_dtype (str, optional): dtype to load the weights in.
        init_cfg (dict, optional): MMEngine init config; the weights come
            from ``pretrained`` in any case.
    """

    def __init__(self,
                 pretrained: str,
                 out_indices: Sequence[int] = (6, 12, 18, 24),
                 frozen: bool = False,
                 torch_dtype: Optional[str] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        from transformers import CLIPVisionModel
        self.vit = load_hf_model(
            CLIPVisionModel, pretrained, torch_dtype=torch_dtype)
        config = self.vit.config
        self.num_layers = config.num_hidden_layers
        self.embed_dims = config.hidden_size
        self.patch_size = config.patch_size
        self.out_indices = tuple(
            self._check_index(i) for i in out_indices)
        self.frozen = frozen
        # The pooled CLS output is never used; a parameter without gradient
        # would make DDP stop with "unused parameters".
        self.vit.post_layernorm.requires_grad_(False)
        if frozen:
            self.vit.requires_grad_(False)
            self.vit.eval()

    def _check_index(self, index: int) -> int:
        layer = index if index > 0 else self.num_layers + 1 + index
        if not 1 <= layer <= self.num_layers:
            raise ValueError(
                f'CLIPViTBackbone: out_indices entry {index} is outside the '
                f'1..{self.num_layers} layers of the checkpoint')
        return layer

    def train(self, mode: bool = True) -> 'CLIPViTBackbone':
        """Keep a frozen ViT in eval mode."""
        super().train(mode)
        if self.frozen:
            self.vit.eval()
        return self

    def forward(self, inputs: Tensor) -> ViTOutputs:
        """Run the ViT once and return the tapped maps and all tokens."""
        b, _, h, w = inputs.shape
        p = self.patch_size
        if h % p or w % p:
            raise ValueError(
                f'CLIPViTBackbone: input size {h}x{w} is not a multiple of '
                f'the patch size {p}; set the data preprocessor\'s '
                f'pad_size_divisor to a multiple of {p}')
        inputs = inputs.to(self.vit.dtype)
        out = self.vit(
            pixel_values=inputs,
            interpolate_pos_encoding=True,
            output_hidden_states=True)
        hidden = out.hidden_states
        maps = tuple(
            hidden[i][:, 1:].transpose(1, 2).reshape(b, -1, h // p, w // p)
            for i in self.out_indices)
        return ViTOutputs(maps, tuple(hidden))
