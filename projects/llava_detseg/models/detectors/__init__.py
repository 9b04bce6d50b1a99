from .llava_detseg import TASKS, LlavaDetSeg

__all__ = ['TASKS', 'LlavaDetSeg']
