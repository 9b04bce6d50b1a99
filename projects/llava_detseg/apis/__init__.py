"""Using a trained model: the inferencer, chat sessions, instruction parsing."""
from .chat import CallbackStreamer, ChatSession, StopOnEvent
from .images import load_image
from .inferencer import LlavaDetSegInferencer
from .instructions import ParsedInstruction, parse_instruction

__all__ = [
    'LlavaDetSegInferencer', 'ChatSession', 'CallbackStreamer',
    'StopOnEvent', 'load_image', 'parse_instruction', 'ParsedInstruction'
]
