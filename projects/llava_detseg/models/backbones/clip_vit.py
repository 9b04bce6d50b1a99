"""CLIP-ViT backbone with hidden-state taps, wrapping transformers."""
from typing import NamedTuple, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
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
        token_stride (int, optional): Input pixels per token. ``None`` (the
            default) is the patch size. Another value resizes the input by
            ``patch_size / token_stride`` before the ViT, so the token grid
            is exactly ``H / token_stride``: with patch 14, ``16`` puts the
            taps at stride 16 and a ``(2, 1, 0.5, 0.25)`` pyramid at strides
            8/16/32/64 (FPN's extra level: 128), where power-of-two scale
            factors on a stride-14 grid could only reach 3.5/7/14/28/56. The
            pretrained weights stay untouched (FlexiViT/EVA-02 reach patch 16
            by resizing the kernel instead).
        init_cfg (dict, optional): MMEngine init config; the weights come
            from ``pretrained`` in any case.
    """

    def __init__(self,
                 pretrained: str,
                 out_indices: Sequence[int] = (6, 12, 18, 24),
                 frozen: bool = False,
                 torch_dtype: Optional[str] = None,
                 token_stride: Optional[int] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        from transformers import CLIPVisionModel
        self.vit = load_hf_model(
            CLIPVisionModel, pretrained, torch_dtype=torch_dtype)
        config = self.vit.config
        self.num_layers = config.num_hidden_layers
        self.embed_dims = config.hidden_size
        self.patch_size = config.patch_size
        self.token_stride = token_stride or self.patch_size
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
        p = self.token_stride
        if h % p or w % p:
            what = 'patch size' if p == self.patch_size else 'token_stride'
            raise ValueError(
                f'CLIPViTBackbone: input size {h}x{w} is not a multiple of '
                f'the {what} {p}; set the data preprocessor\'s '
                f'pad_size_divisor to a multiple of {p}')
        if p != self.patch_size:
            size = (h // p * self.patch_size, w // p * self.patch_size)
            inputs = F.interpolate(
                inputs, size=size, mode='bilinear', align_corners=False)
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
