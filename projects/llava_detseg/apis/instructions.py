"""What a user's instruction asks for: a question, blocks, or both.

The language branch answers every instruction, but a grounded model must
know which of the dense heads' results to put in its context, and which
``<DET>`` / ``<SEG>`` blocks the answer is expected to hold, before it
writes. This module reads that from the instruction's words, as
Florence-2's task prompts or mmdet's ``DetInferencer`` texts name the task
up front: "detect / find / locate / box / where" ask for boxes, "segment /
mask / outline" for masks, "how many" for a counted ``<DET>`` block
(grounded models only), the class names (and plurals) mentioned select the
classes, and a clause without a verb ("and the squares") takes the previous
one's. An instruction with none of these is a question.
"""
import re
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

from llava_detseg.datasets.transforms.text_instructions import pluralize
from llava_detseg.models.language.responder import Request
from llava_detseg.structures.text_codec import special_tokens

DET_WORDS = ('detect', 'find', 'locate', 'box', 'boxes', 'where', 'show')
SEG_WORDS = ('segment', 'segmentation', 'mask', 'masks', 'outline')
COUNT_WORDS = ('how many', 'count')
ALL_WORDS = ('all', 'every object', 'everything', 'objects')
# the format's own tokens and the image placeholder: a user's text that
# holds them would open blocks or splice a second image into the prompt
_RESERVED = re.compile('|'.join(
    re.escape(t) for t in ['<image>'] + special_tokens()[:6]) +
                       r'|<loc_\d+>')
_CLAUSES = re.compile(r'\s*(?:,|;|\band\b|\bthen\b|\balso\b)\s*')


@dataclass
class ParsedInstruction:
    """An instruction read for the model.

    Attributes:
        request (Request): What the model answers.
        problems (dict): Counted input problems (``format_tokens_removed``,
            ``instruction_truncated``).
    """
    request: Request
    problems: Dict[str, int]


def _word_in(words: Sequence[str], text: str) -> bool:
    return any(re.search(rf'\b{re.escape(w)}\b', text) for w in words)


def _mentioned(text: str, names: Sequence[str],
               skip: Optional[int] = None) -> List[int]:
    """Indices of the names (or their plurals) that ``text`` mentions."""
    found = []
    for i, name in enumerate(names):
        if i == skip:
            continue
        forms = {name.lower(), pluralize(name).lower()}
        if any(re.search(rf'\b{re.escape(f)}\b', text) for f in forms):
            found.append(i)
    return found


def clean_instruction(text: str, max_chars: int = 2000
                      ) -> Tuple[str, Dict[str, int]]:
    """The instruction without the format's tokens and ``<image>``, cut
    to ``max_chars``, whitespace collapsed; with the problems counted."""
    problems: Dict[str, int] = {}
    removed = len(_RESERVED.findall(text))
    if removed:
        problems['format_tokens_removed'] = removed
        text = _RESERVED.sub(' ', text)
    text = ' '.join(text.split())
    if len(text) > max_chars:
        problems['instruction_truncated'] = len(text) - max_chars
        text = text[:max_chars].rstrip()
    return text, problems


def parse_instruction(text: str,
                      classes: Sequence[str],
                      seg_classes: Sequence[str],
                      background_index: Optional[int] = 0,
                      counts: bool = True,
                      max_chars: int = 2000) -> ParsedInstruction:
    """Read ``text`` into a :class:`Request`.

    Args:
        text (str): The user's instruction.
        classes (Sequence[str]): Detection classes.
        seg_classes (Sequence[str]): Semantic labels.
        background_index (int, optional): The background label (never
            asked for), None if every label is a class.
        counts (bool): "How many ..." asks for a counted ``<DET>`` block
            (grounded text models); False: it is a question.
        max_chars (int): Longest instruction kept.

    Raises:
        ValueError: if nothing is left of the instruction.
    """
    if not isinstance(text, str):
        raise ValueError(f'an instruction must be text, got {type(text)}')
    text, problems = clean_instruction(text, max_chars)
    if not text:
        raise ValueError('the instruction is empty' + (
            ' once the format tokens are removed' if problems else ''))
    low = text.lower()
    det: Optional[List[int]] = None
    seg: Optional[List[int]] = None
    count = counts and _word_in(COUNT_WORDS, low)
    verb = None
    for clause in _CLAUSES.split(low):
        if _word_in(SEG_WORDS, clause):
            verb = 'seg'
        elif _word_in(DET_WORDS, clause) or (count and
                                             _word_in(COUNT_WORDS, clause)):
            verb = 'det'
        if verb is None:
            continue
        every = _word_in(ALL_WORDS, clause)
        if verb == 'det':
            found = _mentioned(clause, classes)
            det = sorted(set(det or []) | set(
                range(len(classes)) if every or not found else found))
        else:
            found = _mentioned(clause, seg_classes, background_index)
            labels = [i for i in range(len(seg_classes))
                      if i != background_index]
            seg = sorted(set(seg or []) | set(
                labels if every or not found else found))
    kind = 'vqa'
    if det is not None or seg is not None:
        kind = 'count' if count and seg is None else (
            'compound' if det is not None and seg is not None else
            'instruction')
    return ParsedInstruction(Request(text, det, seg, kind), problems)
