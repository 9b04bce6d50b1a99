from .conversation import SampleConversations
from .formatting import PackMultiTaskInputs
from .loading import LoadImageWithCheck

__all__ = ['SampleConversations', 'PackMultiTaskInputs', 'LoadImageWithCheck']
