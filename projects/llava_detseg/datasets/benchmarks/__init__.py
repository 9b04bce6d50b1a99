"""VQA benchmarks in their published formats (LLaVA-1.5's evaluation set).

Each dataset yields images with their ``vqa_questions`` and a
``benchmark`` name; ``configs/_base_/datasets/<benchmark>.py`` pairs it
with its metric (``evaluation/metrics``).
"""
from .base import SHORT_ANSWER, VQABenchmarkDataset
from .gqa import GQADataset
from .mme import MME_COGNITION, MME_PERCEPTION, MMEDataset
from .pope import POPE_SPLITS, POPEDataset
from .scienceqa import ScienceQADataset
from .vqav2 import TextVQADataset, VizWizDataset, VQAv2Dataset

__all__ = [
    'SHORT_ANSWER', 'VQABenchmarkDataset', 'GQADataset', 'MMEDataset',
    'MME_COGNITION', 'MME_PERCEPTION', 'POPEDataset', 'POPE_SPLITS',
    'ScienceQADataset', 'TextVQADataset', 'VizWizDataset', 'VQAv2Dataset'
]
