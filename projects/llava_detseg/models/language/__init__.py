from .constrained_decoding import (DetSegConstraint, DetSegLogitsProcessor,
                                   context_items, terminate_items,
                                   tidy_answer)
from .conversation import (IGNORE_INDEX, IMAGE_PLACEHOLDER, LLAVA_V1_SYSTEM,
                           ConversationTokenizer, first_question, split_turns)
from .llama_tokenizer import write_llama_tokenizer
from .llava_branch import LlavaLanguageBranch
from .projectors import (AdaptiveMoEProjector, IdentityProjector,
                         LinearProjector, MLPProjector, MoEProjector,
                         build_projector)
from .tiny_checkpoint import (build_tiny_tokenizer, write_full_width_checkpoints,
                              write_tiny_checkpoints)

__all__ = [
    'IGNORE_INDEX', 'IMAGE_PLACEHOLDER', 'LLAVA_V1_SYSTEM',
    'ConversationTokenizer', 'split_turns', 'LlavaLanguageBranch',
    'first_question', 'build_tiny_tokenizer', 'write_tiny_checkpoints',
    'write_full_width_checkpoints',
    'write_llama_tokenizer',
    'AdaptiveMoEProjector', 'IdentityProjector', 'LinearProjector',
    'MLPProjector', 'MoEProjector', 'build_projector', 'DetSegConstraint',
    'DetSegLogitsProcessor', 'context_items', 'terminate_items',
    'tidy_answer'
]
