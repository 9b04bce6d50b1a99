from .light_unet_head import LightUNetHead

__all__ = ['LightUNetHead']
