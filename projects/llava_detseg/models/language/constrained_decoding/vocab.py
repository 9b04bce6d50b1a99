"""The text format's tokens for one tokenizer, and the answer-text helpers
(context items, terminated items) the decoder and the loss share."""
import re
from typing import Dict, List, Tuple

from llava_detseg.structures.text_codec import (DET_CLOSE, DET_OPEN, ITEM_SEP,
                                                POLY_CLOSE, POLY_OPEN,
                                                SEG_CLOSE, SEG_OPEN,
                                                DetSegTextCodec)
from ..name_spacing import space_after_open

_TRAILING_SEP = re.compile(
    r'\s*' + re.escape(ITEM_SEP.strip()) + r'\s*(' + re.escape(DET_CLOSE) +
    '|' + re.escape(SEG_CLOSE) + ')')
_LAST_ITEM = re.compile(r'(?<!' + re.escape(DET_OPEN) + r')(?<!' +
                        re.escape(SEG_OPEN) + r')(' + re.escape(DET_CLOSE) +
                        '|' + re.escape(SEG_CLOSE) + ')')
_BLOCK_RE = {
    'det': re.compile(re.escape(DET_OPEN) + '(.*?)' + re.escape(DET_CLOSE),
                      re.S),
    'seg': re.compile(re.escape(SEG_OPEN) + '(.*?)' + re.escape(SEG_CLOSE),
                      re.S),
}


def context_items(context: str) -> Dict[str, List[str]]:
    """The item texts of the first ``<DET>`` and ``<SEG>`` block of
    ``context``; a kind without a block is missing from the result."""
    out = {}
    for kind, pattern in _BLOCK_RE.items():
        match = pattern.search(context or '')
        if match is not None:
            body = match.group(1)
            out[kind] = [s for s in body.split(ITEM_SEP) if s] if body else []
    return out


def terminate_items(text: str) -> str:
    """End the last item of each non-empty block with the separator
    (``a; b</DET>`` -> ``a; b;</DET>``); :func:`tidy_answer` undoes it."""
    return _LAST_ITEM.sub(ITEM_SEP.strip() + r'\1', text)


def tidy_answer(text: str) -> str:
    """Drop a separator left before a closing tag (``;</DET>`` ->
    ``</DET>``), as :class:`DetSegLogitsProcessor` can leave one."""
    return _TRAILING_SEP.sub(r'\1', text)


class FormatVocab:
    """The format's token ids for one tokenizer, and item tokenization that
    matches how a whole answer is tokenized (added tokens split the text
    into pieces that are tokenized on their own, so an item is tokenized
    behind the token that precedes it in an answer). ``name_spacing``:
    text is tokenized as the language branch does with it (see
    ``name_spacing.py``)."""

    def __init__(self, tokenizer, codec: DetSegTextCodec,
                 name_spacing: bool = False) -> None:
        self.tokenizer = tokenizer
        self.name_spacing = name_spacing
        ids = tokenizer.convert_tokens_to_ids
        self.open = dict(det=ids(DET_OPEN), seg=ids(SEG_OPEN))
        self.close = dict(det=ids(DET_CLOSE), seg=ids(SEG_CLOSE))
        self.poly_open, self.poly_close = ids(POLY_OPEN), ids(POLY_CLOSE)
        self.locs = list(ids([f'<loc_{i}>' for i in range(codec.num_bins)]))
        self.loc_bin = {t: i for i, t in enumerate(self.locs)}
        self.eos = tokenizer.eos_token_id
        pad = tokenizer.pad_token_id
        self.pad = self.eos if pad is None else pad
        banned = set(self.locs) | {self.poly_open, self.poly_close,
                                   *self.close.values()}
        self.free = [i for i in range(len(tokenizer)) if i not in banned]
        # anchors: the token an item follows when first / not first
        self._after_first = dict(det=DET_OPEN, seg=SEG_OPEN)
        self._after_item = dict(det='<loc_0>', seg=POLY_CLOSE)

    def encode(self, text: str) -> List[int]:
        if self.name_spacing:
            text = space_after_open(text)
        return self.tokenizer(text, add_special_tokens=False).input_ids

    def item(self, kind: str, text: str, first: bool) -> Tuple[int, ...]:
        """Tokens of item ``text`` right after the open tag (``first``) or
        after the previous item, separator included."""
        anchor = self._after_first[kind] if first else \
            self._after_item[kind] + ITEM_SEP
        ids = self.encode(anchor + text)
        return tuple(ids[1:])

    def class_part(self, kind: str, name: str, first: bool) -> Tuple[int, ...]:
        """Tokens of ``{name} `` before the first loc / ``<poly>``."""
        body = '<loc_0>' if kind == 'det' else POLY_OPEN
        return self.item(kind, f'{name} {body}', first)[:-1]
