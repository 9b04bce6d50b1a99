"""ViTDet-style simple feature pyramid over several ViT layers."""
from typing import List, Optional, Sequence, Tuple, Union

from mmcv.cnn import build_norm_layer
from mmengine.model import BaseModule
from torch import Tensor, nn

from llava_detseg.registry import MODELS


@MODELS.register_module()
class SimplePyramid(BaseModule):
    """Turn single-stride ViT maps into a pyramid (ViTDet, Li et al. 2022).

    ViTDet builds every level from the last layer; here level ``i`` is built
    from tapped layer ``i`` (shallow layers feed the fine levels), so the
    CLIP taps 6/12/18/24 become strides 4/8/16/32 for patch size 16. A scale
    factor ``s`` is reached by ``log2(s)`` stride-2 deconvolutions (``s > 1``),
    identity (``s == 1``) or max pooling (``s < 1``). mmdet's ``FPN`` follows.

    Args:
        in_channels (int): Channels of the ViT maps.
        out_channels (int): Channels of every pyramid level.
        scale_factors (Sequence[float]): One per input map, powers of two.
        norm_cfg (dict): Norm after each deconvolution and projection.
        init_cfg (dict, optional): Init config.
    """

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 scale_factors: Sequence[float] = (4.0, 2.0, 1.0, 0.5),
                 norm_cfg: dict = dict(type='GN', num_groups=32),
                 init_cfg: Optional[Union[dict, List[dict]]] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.scale_factors = tuple(scale_factors)
        self.stages = nn.ModuleList(
            self._stage(in_channels, out_channels, s, norm_cfg)
            for s in self.scale_factors)

    @staticmethod
    def _stage(in_ch: int, out_ch: int, scale: float,
               norm_cfg: dict) -> nn.Sequential:
        layers: List[nn.Module] = []
        if scale > 1:
            steps = int(round(scale)).bit_length() - 1
            if 2**steps != scale:
                raise ValueError(f'SimplePyramid: scale factor {scale} is '
                                 'not a power of two')
            for i in range(steps):
                layers.append(nn.ConvTranspose2d(in_ch, in_ch, 2, stride=2))
                if i < steps - 1:
                    layers += [build_norm_layer(norm_cfg, in_ch)[1], nn.GELU()]
        elif scale < 1:
            kernel = int(round(1 / scale))
            if kernel & (kernel - 1):
                raise ValueError(f'SimplePyramid: scale factor {scale} is '
                                 'not a power of two')
            layers.append(nn.MaxPool2d(kernel, stride=kernel))
        layers += [
            nn.Conv2d(in_ch, out_ch, 1, bias=False),
            build_norm_layer(norm_cfg, out_ch)[1],
            nn.Conv2d(out_ch, out_ch, 3, padding=1, bias=False),
            build_norm_layer(norm_cfg, out_ch)[1],
        ]
        return nn.Sequential(*layers)

    def forward(self, inputs: Sequence[Tensor]) -> Tuple[Tensor, ...]:
        """Map the i-th ViT map to the i-th pyramid level."""
        if len(inputs) != len(self.stages):
            raise ValueError(
                f'SimplePyramid: got {len(inputs)} maps but has '
                f'{len(self.stages)} scale factors; make the backbone\'s '
                'out_indices and the neck\'s scale_factors the same length')
        return tuple(stage(x) for stage, x in zip(self.stages, inputs))
