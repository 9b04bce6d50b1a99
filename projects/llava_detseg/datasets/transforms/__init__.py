from .array_loading import LoadImageFromArray
from .captions import SampleCaptions
from .conversation import (ImageLevelConversations, MergeConversations,
                           SampleConversations)
from .formatting import PackMultiTaskInputs
from .geometric import RandomAspectPad
from .loading import CheckSemanticMap, LoadImageWithCheck
from .text_instructions import GenerateTextInstructions

__all__ = [
    'SampleConversations', 'PackMultiTaskInputs', 'LoadImageWithCheck',
    'CheckSemanticMap', 'LoadImageFromArray', 'SampleCaptions',
    'GenerateTextInstructions', 'ImageLevelConversations',
    'MergeConversations', 'RandomAspectPad'
]
