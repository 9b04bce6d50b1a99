"""A light U-Net decoder on the neck's pyramid (mmseg decode-head API)."""
from typing import List, Sequence, Union

import torch
from mmcv.cnn import ConvModule
from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from mmseg.models.utils import resize
from torch import Tensor, nn

from llava_detseg.registry import MODELS


@MODELS.register_module()
class LightUNetHead(BaseDecodeHead):
    """U-Net-style decoder: the coarsest map is upsampled level by level and
    fused with each finer map through a skip connection.

    Where ``mmseg.FCNHead`` with ``resize_concat`` upsamples every level to
    the finest stride and runs one wide convolution there (``sum(in_channels)
    -> channels`` at full resolution), this head works its way up: a stage
    concatenates the upsampled decoder map with the next finer level and
    runs ``num_convs`` 3x3 convolutions at that level's size, so the
    high-level semantics are refined by the low-level detail at every
    stride and only ``channels + in_channels[0]`` channels meet at the
    finest one. The logits come out at the finest input's stride.

    Every convolution is an ``nn.Conv2d`` inside an mmcv ``ConvModule``, so
    the adapters' Conv-LoRA (``target_types=['Conv2d']``) wraps it like
    FCN's.

    Args:
        in_channels (Sequence[int]): Channels of the selected levels, finest
            first.
        channels (int): Width of the decoder.
        in_index (Sequence[int]): Levels of the neck's output to use,
            finest first (at least two).
        num_convs (int): 3x3 convolutions per stage (>= 1).
        upsample_mode (str): ``'bilinear'`` or ``'nearest'``.
        **kwargs: ``BaseDecodeHead`` arguments (``num_classes``,
            ``norm_cfg``, ``dropout_ratio``, ``loss_decode``, ...).
            ``input_transform`` is fixed to ``'multiple_select'``.
    """

    def __init__(self,
                 in_channels: Sequence[int],
                 channels: int,
                 in_index: Sequence[int] = (0, 1, 2, 3),
                 num_convs: int = 1,
                 upsample_mode: str = 'bilinear',
                 loss_decode: Union[dict, List[dict]] = dict(
                     type='mmseg.CrossEntropyLoss',
                     use_sigmoid=False,
                     loss_weight=1.0),
                 **kwargs) -> None:
        if kwargs.pop('input_transform', 'multiple_select') != \
                'multiple_select':
            raise ValueError('LightUNetHead reads every selected level '
                             "itself: drop input_transform (or set "
                             "'multiple_select')")
        if not isinstance(in_channels, (list, tuple)) or \
                len(in_channels) < 2:
            raise ValueError('LightUNetHead needs in_channels of at least '
                             f'two levels (finest first), got {in_channels!r}')
        if len(in_index) != len(in_channels):
            raise ValueError(f'in_index {list(in_index)} and in_channels '
                             f'{list(in_channels)} must have one entry per '
                             'level')
        if num_convs < 1:
            raise ValueError(f'num_convs must be >= 1, got {num_convs}')
        if upsample_mode not in ('bilinear', 'nearest'):
            raise ValueError("upsample_mode must be 'bilinear' or "
                             f"'nearest', got {upsample_mode!r}")
        super().__init__(
            in_channels=list(in_channels),
            channels=channels,
            in_index=list(in_index),
            input_transform='multiple_select',
            loss_decode=loss_decode,
            **kwargs)
        self.upsample_mode = upsample_mode
        conv = dict(
            kernel_size=3,
            padding=1,
            conv_cfg=self.conv_cfg,
            norm_cfg=self.norm_cfg,
            act_cfg=self.act_cfg)
        # the coarsest level enters the decoder through one conv
        self.bottleneck = ConvModule(self.in_channels[-1], channels, **conv)
        # one stage per finer level, coarse to fine
        self.stages = nn.ModuleList()
        for skip in reversed(self.in_channels[:-1]):
            self.stages.append(
                nn.Sequential(*[
                    ConvModule(channels +
                               skip if i == 0 else channels, channels, **conv)
                    for i in range(num_convs)
                ]))

    def _upsample(self, x: Tensor, like: Tensor) -> Tensor:
        align = self.align_corners if self.upsample_mode == 'bilinear' \
            else None
        return resize(
            x,
            size=like.shape[2:],
            mode=self.upsample_mode,
            align_corners=align)

    def forward(self, inputs: Sequence[Tensor]) -> Tensor:
        """Logits at the finest selected level's size."""
        feats = self._transform_inputs(inputs)
        x = self.bottleneck(feats[-1])
        for stage, skip in zip(self.stages, reversed(feats[:-1])):
            x = stage(torch.cat([self._upsample(x, skip), skip], dim=1))
        return self.cls_seg(x)
