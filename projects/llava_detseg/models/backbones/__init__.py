from .clip_vit import CLIPViTBackbone, ViTOutputs

__all__ = ['CLIPViTBackbone', 'ViTOutputs']
