"""Tokenize the class name after an open tag as the ones after a separator.

A block is ``<DET>{class} <loc_…>…; {class} <loc_…>…</DET>``: every class
name but the first follows the separator's space, the first follows the
open tag with none. Added tokens split the text into pieces that are
tokenized on their own, so with a byte-level BPE (GPT-2 style ``Ġ``) or
LLaMA's SentencePiece with ``legacy=False`` (Vicuna v1.5: the "▁" dummy
prefix only at the start of the text) the first name is spelled in other,
word-internal pieces (``<DET>`` ``t`` ``ri`` ``angle`` against ``;``
``Ġtriangle``). The class decision right after the open tag (the one an
"only {class}" answer turns on) then reads the rows of generic pieces such
as ``t`` and ``s``, shared with every other word, and not the row of the
name that the instruction and the later items use; a tiny model trained on
it confused "triangle" and "square" there (configs/text/README.md).

The fix is at the tokenizer boundary, so the text format is unchanged:
:func:`space_after_open` puts a space between an open tag and a class name
before text is tokenized, :func:`unspace_after_open` takes it out of decoded
answers. :func:`spacing_helps` tells whether a tokenizer needs it (it does
not where the tokenizer already gives each piece a prefix space, e.g.
LLaMA's with ``legacy=True``).
"""
import re
from typing import Sequence, Union

from llava_detseg.structures.text_codec import (DET_OPEN, ITEM_SEP,
                                                SEG_OPEN)

_OPEN = f'({re.escape(DET_OPEN)}|{re.escape(SEG_OPEN)})'
# an open tag right before a class name (not a tag, not blank)
_BEFORE_NAME = re.compile(_OPEN + r'(?=[^\s<])')
_SPACED = re.compile(_OPEN + r' (?=[^\s<])')
# words a tokenizer is probed with: how it handles a piece's first word
# does not depend on the word
PROBE_WORDS = ('person', 'car', 'circle', 'square', 'triangle', 'chair',
               'traffic light', 'wall')


def space_after_open(text: str) -> str:
    """``<DET>circle <loc_1>…`` -> ``<DET> circle <loc_1>…`` (each block)."""
    return _BEFORE_NAME.sub(r'\1 ', text)


def unspace_after_open(text: str) -> str:
    """Undo :func:`space_after_open` on decoded text."""
    return _SPACED.sub(r'\1', text)


def _item_tokens(tokenizer, anchor: str, item: str) -> list:
    """Tokens of ``item`` when it follows ``anchor`` (anchor tokens cut)."""
    def encode(text: str) -> list:
        return tokenizer(text, add_special_tokens=False).input_ids

    head, ids = encode(anchor), encode(anchor + item)
    return ids[len(head):] if ids[:len(head)] == head else ids


def spacing_helps(tokenizer, words: Sequence[str] = PROBE_WORDS) -> bool:
    """Whether :func:`space_after_open` makes a first item's tokens those of
    a later item for more of ``words`` than the plain text does (needs the
    format's tokens in ``tokenizer``)."""
    plain = spaced = 0
    for word in words:
        item = f'{word} <loc_0>'
        later = _item_tokens(tokenizer, '<loc_0>' + ITEM_SEP.rstrip(),
                             ' ' + item)
        plain += _item_tokens(tokenizer, DET_OPEN, item) == later
        spaced += _item_tokens(tokenizer, DET_OPEN, ' ' + item) == later
    return spaced > plain


def resolve_name_spacing(tokenizer, value: Union[bool, str]) -> bool:
    """``name_spacing`` of ``special_tokens``: ``True`` / ``False``, or
    ``'auto'`` (:func:`spacing_helps`). Raises ``ValueError`` on anything
    else."""
    if value == 'auto':
        return spacing_helps(tokenizer)
    if not isinstance(value, bool):
        raise ValueError('special_tokens.name_spacing must be True, False '
                         f'or "auto", got {value!r}')
    return value
