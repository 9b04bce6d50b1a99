from .itc_head import ImageTextContrastiveHead
from .light_unet_head import LightUNetHead
from .linear_cls_head import LinearClsHead

__all__ = ['ImageTextContrastiveHead', 'LightUNetHead', 'LinearClsHead']
