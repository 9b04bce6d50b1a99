from .conversation import SampleConversations
from .formatting import PackMultiTaskInputs
from .loading import LoadImageWithCheck
from .text_instructions import GenerateTextInstructions

__all__ = [
    'SampleConversations', 'PackMultiTaskInputs', 'LoadImageWithCheck',
    'GenerateTextInstructions'
]
