"""The format's token tables for one tokenizer and codec, and the
``prefix_allowed_tokens_fn`` factory built on them."""
from typing import (TYPE_CHECKING, Callable, Dict, List, Optional, Sequence,
                    Set, Tuple)

from torch import Tensor

from llava_detseg.structures.text_codec import DetSegTextCodec
from .row_parser import RowParser
from .vocab import FormatVocab, context_items

if TYPE_CHECKING:
    from .processor import DetSegLogitsProcessor

LEVELS = ('grammar', 'context', 'context_any')
CONTEXT_LEVELS = ('context', 'context_any')


class DetSegConstraint:
    """``prefix_allowed_tokens_fn`` factory for answers in the text format.

    Args:
        tokenizer: The language branch's tokenizer (with the format tokens).
        codec (DetSegTextCodec): Class names, bins and limits.
        level (str): ``'grammar'``, ``'context'`` or ``'context_any'`` (see
            the module doc).
        name_spacing (bool): Tokenize as the language branch does with
            ``special_tokens.name_spacing`` (its ``name_spacing``
            attribute).
    """

    def __init__(self, tokenizer, codec: DetSegTextCodec,
                 level: str = 'context', name_spacing: bool = False) -> None:
        if level not in LEVELS:
            raise ValueError(f'text_cfg.constrain must be one of {LEVELS} '
                             f'or None, got {level!r}')
        self.level = level
        self.vocab = FormatVocab(tokenizer, codec, name_spacing)
        self.max_items = dict(det=codec.max_boxes, seg=10**9)
        self.max_vertices = codec.max_vertices
        names = dict(det=codec.classes, seg=[
            n for i, n in enumerate(codec.seg_classes)
            if i not in (codec.background_index, codec.ignore_index)
        ])
        self.class_parts: Dict[tuple, List[Tuple[int, ...]]] = {}
        self.shortest_class: Dict[tuple, int] = {}
        for kind in ('det', 'seg'):
            for first in (True, False):
                parts = [self.vocab.class_part(kind, n, first)
                         for n in names[kind]]
                self.class_parts[(kind, first)] = parts
                self.shortest_class[(kind, first)] = min(map(len, parts),
                                                          default=0)
        # tokens of the separator before a later item's class name (the
        # common prefix of the class parts; a made-up name guards the case
        # of a single class)
        self.separator: Dict[str, Tuple[int, ...]] = {}
        for kind in ('det', 'seg'):
            parts = self.class_parts[(kind, False)] + [
                self.vocab.class_part(kind, 'qzx', False)]
            n = 0
            while all(len(p) > n and p[n] == parts[0][n] for p in parts):
                n += 1
            self.separator[kind] = parts[0][:n]
        # token that starts each class name at a class-choice position
        self.class_starts: Dict[tuple, Set[int]] = {
            (kind, first): {
                p[0 if first else len(self.separator[kind])]
                for p in self.class_parts[(kind, first)]
            }
            for kind in ('det', 'seg') for first in (True, False)
        }
        self._item_cache: Dict[tuple, Tuple[int, ...]] = {}
        self._outside_cache: Dict[tuple, List[int]] = {}

    def decision_after(self) -> Set[int]:
        """Tokens after which a class choice comes: the open tags and the
        separator's last token. The next token (a class name or the closing
        tag) is where the class-switch rule asks the model."""
        out = set(self.vocab.open.values())
        out |= {sep[-1] for sep in self.separator.values() if sep}
        return out

    def item_ids(self, kind: str, text: str, first: bool) -> Tuple[int, ...]:
        key = (kind, text, first)
        if key not in self._item_cache:
            self._item_cache[key] = self.vocab.item(kind, text, first)
        return self._item_cache[key]

    def outside_ids(self, openable: Sequence[str], can_end: bool
                    ) -> List[int]:
        """Free tokens, the open tags of ``openable`` kinds, and the end of
        the answer if ``can_end``."""
        key = (tuple(openable), can_end)
        if key not in self._outside_cache:
            shut = {self.vocab.open[k] for k in ('det', 'seg')
                    if k not in openable}
            if not can_end:
                shut.add(self.vocab.eos)
            self._outside_cache[key] = [
                i for i in self.vocab.free if i not in shut]
        return self._outside_cache[key]

    def parsers(self, contexts: Sequence[Optional[str]],
                runs: bool = False) -> List[RowParser]:
        """One fresh :class:`RowParser` per row (``runs``: class runs
        decide where blocks close)."""
        return [
            RowParser(self, context_items(c)
                      if self.level in CONTEXT_LEVELS else None, runs)
            for c in contexts
        ]

    @staticmethod
    def sync(rows: List[RowParser], batch_id: int,
             tokens: List[int]) -> RowParser:
        """The row's parser, fed the tokens generated since the last call
        (a fresh one when a new ``generate`` reuses the rows)."""
        parser = rows[batch_id]
        if len(tokens) < parser.fed:
            parser = rows[batch_id] = RowParser(parser.o, parser.items,
                                                parser.runs)
        for token in tokens[parser.fed:]:
            parser.feed(token)
        return parser

    def build(self, contexts: Sequence[Optional[str]],
              max_new_tokens: int) -> Callable[[int, Tensor], List[int]]:
        """The ``prefix_allowed_tokens_fn`` for one ``generate`` call.

        Args:
            contexts (Sequence[str | None]): Per row, the grounded context
                whose items may be copied (``'context'`` level); ignored at
                the ``'grammar'`` level.
            max_new_tokens (int): The call's budget, so that blocks close in
                time.
        """
        rows = self.parsers(contexts)

        def allowed(batch_id: int, sent: Tensor) -> List[int]:
            # generate() from inputs_embeds passes the generated ids only
            tokens = sent.tolist()
            parser = self.sync(rows, batch_id, tokens)
            return parser.allowed(max_new_tokens - len(tokens))

        return allowed

    def processor(self, contexts: Sequence[Optional[str]],
                  max_new_tokens: int,
                  switch_prob: Optional[float] = None
                  ) -> 'DetSegLogitsProcessor':
        """The constraint as a ``LogitsProcessor`` for one ``generate`` call
        (``contexts`` and ``max_new_tokens`` as for :meth:`build`); with
        ``switch_prob`` the context levels copy classes in runs and switch
        class only where the model wants another one (see
        :class:`DetSegLogitsProcessor`)."""
        from .processor import DetSegLogitsProcessor
        return DetSegLogitsProcessor(self, contexts, max_new_tokens,
                                     switch_prob)

    def check(self, tokens: Sequence[int], context: Optional[str] = None,
              policy: bool = False) -> bool:
        """Whether ``tokens`` is an answer this constraint allows (tests;
        ``policy``: with class runs, as :class:`DetSegLogitsProcessor`)."""
        parser = self.parsers([context], policy)[0]
        for token in tokens:
            if token not in parser.allowed(10**9):
                return False
            parser.feed(token)
        return True
