"""Synthetic data generators (numpy / OpenCV only, no torch or mmengine)."""
from .shapes import CLASSES, COLORS, GENERATOR_VERSION, generate_shapes

__all__ = ['CLASSES', 'COLORS', 'GENERATOR_VERSION', 'generate_shapes']
