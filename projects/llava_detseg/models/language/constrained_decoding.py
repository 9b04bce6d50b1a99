"""Constrained decoding of ``<DET>`` / ``<SEG>`` answers.

Greedy decoding of a small or briefly trained language model drifts out of
the format: a loc token repeated forever, a block never closed, a box with
three coordinates. :class:`DetSegConstraint` says which tokens keep an
answer inside the text format of ``docs/text_format.md``, as the
``prefix_allowed_tokens_fn`` of ``transformers``' ``generate``
(:meth:`DetSegConstraint.build`) or as the :class:`DetSegLogitsProcessor`
that the language branch decodes with (:meth:`DetSegConstraint.processor`);
the model still chooses, among the allowed tokens, what to write and when to
stop. The processor can also copy each class of a grounded context as one
run and let the model's class probabilities decide where a block ends
(``text_cfg.switch_prob``).

Three levels (``TextTaskIO(constrain=...)``):

* ``'grammar'``: blocks follow the format: class names from the codec,
  exactly four locs per box with ``x2 >= x1`` and ``y2 >= y1``, polygons of
  3 to ``max_vertices`` vertices, at most ``max_boxes`` boxes, every block
  closed and each block kind written at most once. Locs are free, so the
  model still places every box itself (generative mode).
* ``'context'``: as ``'grammar'``, but every item of a block is copied from
  the same block kind in the prompt's context, and the items of one class
  are copied in context order (score order for the heads' boxes) without
  skipping: writing a class name selects that class's next context item
  (pointer-style copying, grounded mode). The language model decides which
  classes answer the instruction, in which order, and when the block ends;
  it can no longer corrupt a copied coordinate or drop a box in the middle
  of its class. COCO-style AP ranks per class, so this order loses nothing.
* ``'context_any'``: any context item, each at most once, in any order (for
  instructions that pick one instance, "the second square from the left";
  the model then chooses the instance through its loc tokens).

Outside the blocks the free text (``Answer: {text}``) is unconstrained,
except that locs, ``<poly>`` and closing tags cannot appear there. A block
is only opened while the remaining token budget can still close it, and no
item is started that the budget cannot finish. At the context levels
the answer cannot end before it has written each block kind of the context
(the context holds the kinds the instruction asked for), and a block leaves
the budget the blocks still due after it need.
"""
import re
from typing import (Callable, Dict, FrozenSet, Iterable, List, Optional,
                    Sequence, Set, Tuple, Union)

import torch
from torch import Tensor
from transformers import LogitsProcessor

from llava_detseg.structures.text_codec import (DET_CLOSE, DET_OPEN, ITEM_SEP,
                                                POLY_CLOSE, POLY_OPEN,
                                                SEG_CLOSE, SEG_OPEN,
                                                DetSegTextCodec)
from .name_spacing import space_after_open

LEVELS = ('grammar', 'context', 'context_any')
# text_cfg.switch_rule: what the switch threshold compares (see
# DetSegLogitsProcessor)
SWITCH_RULES = ('best', 'any')
# text_cfg.switch_prob / run_stop_prob: one value, None, or one per block kind
KindProb = Union[None, float, Dict[str, Optional[float]]]
CONTEXT_LEVELS = ('context', 'context_any')
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


class _FormatVocab:
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


class _RowParser:
    """Follows one generated answer token by token and says which tokens may
    come next."""

    def __init__(self, owner: 'DetSegConstraint',
                 items: Optional[Dict[str, List[str]]],
                 policy: Union[bool, Iterable[str]] = False) -> None:
        self.o = owner
        self.v = owner.vocab
        self.items = items  # None: grammar level
        # the block kinds that may close after a separator
        # (DetSegLogitsProcessor decides); True: both
        self.policy: FrozenSet[str] = frozenset(
            ('det', 'seg') if policy is True else (policy or ()))
        self.fed = 0
        self.done = False
        self.kind: Optional[str] = None  # block being written
        self.written: Set[str] = set()
        self.buf: List[int] = []  # tokens of the item being written
        self.first = True
        self.count = 0
        self.used: List[int] = []
        if items is not None:
            # the class of each context item: the text before its locs
            self.names = {
                kind: [t.split('<', 1)[0].strip() for t in texts]
                for kind, texts in items.items()
            }
            self.cands = {
                kind: ([owner.item_ids(kind, t, True) for t in texts],
                       [owner.item_ids(kind, t, False) for t in texts])
                for kind, texts in items.items()
            }

    # ---------------------------------------------------------------- feed
    def feed(self, token: int) -> None:
        self.fed += 1
        v = self.v
        if self.done:
            return
        if self.kind is None:
            if token == v.eos:
                self.done = True
            for kind, tag in v.open.items():
                if token == tag:
                    self.kind, self.buf, self.first, self.count = \
                        kind, [], True, 0
                    self.used = []
            return
        if token == v.close[self.kind] and (
                not self.buf or self.kind in self.policy
                and self.at_class_choice()):
            # the end of the block (after a separator: the class policy ended it)
            self.written.add(self.kind)
            self.kind = None
            return
        self.buf.append(token)
        if self._complete():
            self.buf, self.first = [], False
            self.count += 1

    def at_class_choice(self) -> bool:
        """Whether the next token starts a class name: right after the
        open tag, or after an item's separator."""
        if self.kind is None:
            return False
        if self.first:
            return not self.buf
        return tuple(self.buf) == self.o.separator[self.kind]

    def written_classes(self) -> Set[str]:
        """The classes of the items written in the open block."""
        if self.items is None or self.kind is None:
            return set()
        return {self.names[self.kind][i] for i in self.used}

    def in_run(self) -> bool:
        """Whether an item was just completed and the context has more of
        its class (the next token is the separator or the closing tag)."""
        return (self.kind is not None and not self.first and not self.buf
                and self.run_class() is not None)

    def _complete(self) -> bool:
        if self.items is not None:
            seqs = self._candidates()
            buf = tuple(self.buf)
            for i, seq in seqs:
                if seq == buf:
                    self.used.append(i)
                    return True
            return False
        body = self._body()
        if body is None:
            return False
        if self.kind == 'det':
            return len(body) == 4
        return len(body) > 1 and body[-1] == self.v.poly_close

    def run_class(self) -> Optional[str]:
        """The class of the block's last item if the context has more items
        of it (context levels), else None."""
        if self.items is None or self.kind is None or not self.used:
            return None
        names = self.names[self.kind]
        name = names[self.used[-1]]
        left = any(n == name and i not in self.used
                   for i, n in enumerate(names))
        return name if left else None

    def next_ids(self, remaining: int, name: str) -> List[int]:
        """The allowed next tokens that continue an item of class
        ``name`` (context levels)."""
        return self._next_ids(remaining, name)

    def _candidates(self, only: Optional[str] = None
                    ) -> List[Tuple[int, Tuple[int, ...]]]:
        """Items that may be written next: the unused ones (of class
        ``only`` if given), and at the ``'context'`` level only the first
        unused one of each class."""
        first, later = self.cands.get(self.kind, ([], []))
        seqs = first if self.first else later
        out, classes = [], set()
        per_class = self.o.level == 'context'
        for i, s in enumerate(seqs):
            if i in self.used:
                continue
            name = self.names[self.kind][i]
            if only is not None and name != only:
                continue
            if per_class and name in classes:
                continue
            classes.add(name)
            out.append((i, s))
        return out

    def _body(self) -> Optional[List[int]]:
        """The tokens after the class name, or None while inside it."""
        for part in self.o.class_parts[(self.kind, self.first)]:
            if len(self.buf) >= len(part) and tuple(
                    self.buf[:len(part)]) == part:
                return self.buf[len(part):]
        return None

    # ------------------------------------------------------------- allowed
    def allowed(self, remaining: int) -> List[int]:
        v = self.v
        if self.done:
            return [v.pad]
        if self.kind is None:
            openable = self._openable(remaining)
            if self.items is None:
                return self.o.outside_ids(openable, True)
            # context level: the answer holds every block the context offers
            # (the instruction asked for them); open them while budget lasts
            due = [k for k in self.items if k not in self.written]
            if due and remaining <= 2 * len(due) + 1:
                return [v.open[k] for k in due]
            return self.o.outside_ids(openable, not due)
        close = v.close[self.kind]
        # context levels: keep room to open and close the blocks still due
        # after this one, or a long block spends the budget they need
        later = 0 if self.items is None else 2 * sum(
            k not in self.written and k != self.kind for k in self.items)
        ids = self._item_ids(remaining - later, close)
        sep = self.o.separator[self.kind]
        n = len(self.buf)
        if self.kind in self.policy and not self.first and n < len(sep) and \
                tuple(self.buf) == sep[:n] and remaining > len(sep) - n:
            # a model trained with terminate_items ends even the last item
            # with the separator; the block closes after it
            ids = sorted(set(ids) | {sep[n]})
        return ids

    def _item_ids(self, remaining: int, close: int) -> List[int]:
        """The allowed tokens inside an open block."""
        if not self.buf:
            # item boundary: another item only if the budget can finish it
            # and close the block (context items are filtered by length in
            # _next_ids; a grammar item needs at least _min_item tokens)
            if self.items is None and (
                    remaining - 1 < self._min_item()
                    or self.count >= self.o.max_items[self.kind]):
                return [close]
            return sorted(set(self._next_ids(remaining)) | {close})
        nxt = self._next_ids(remaining)
        if self.kind in self.policy and self.at_class_choice():
            return sorted(set(nxt) | {close})
        return nxt or [close]

    def _openable(self, remaining: int) -> List[str]:
        kinds = []
        for kind in ('det', 'seg'):
            if kind in self.written or remaining < 2:
                continue
            if self.items is not None and kind not in self.items:
                continue
            kinds.append(kind)
        return kinds

    def _min_item(self) -> int:
        """Tokens of the shortest grammar-level item."""
        if self.kind == 'det':
            return self.o.shortest_class[(self.kind, self.first)] + 4
        # <poly>, three vertices, </poly>
        return self.o.shortest_class[(self.kind, self.first)] + 8

    def _next_ids(self, remaining: int, only: Optional[str] = None
                  ) -> List[int]:
        n = len(self.buf)
        if self.items is not None:
            # only items that fit the budget with the closing tag after them
            buf = tuple(self.buf)
            return sorted({
                s[n] for _, s in self._candidates(only)
                if len(s) > n and s[:n] == buf and len(s) - n < remaining
            })
        body = self._body()
        if body is None:
            buf = tuple(self.buf)
            return sorted({
                p[n] for p in self.o.class_parts[(self.kind, self.first)]
                if len(p) > n and p[:n] == buf
            })
        v = self.v
        if self.kind == 'det':
            if len(body) >= 2:  # x2 >= x1, y2 >= y1
                low = v.loc_bin[body[len(body) - 2]]
                return v.locs[low:]
            return v.locs
        if not body:
            return [v.poly_open]
        coords = len(body) - 1
        if coords % 2:
            return v.locs
        if coords // 2 < 3:
            return v.locs
        if coords // 2 >= self.o.max_vertices or remaining <= 3:
            # full, or only the budget to close the polygon and the block
            return [v.poly_close]
        return v.locs + [v.poly_close]


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
        self.vocab = _FormatVocab(tokenizer, codec, name_spacing)
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
        # the class names each of those tokens starts
        self.start_names: Dict[tuple, Dict[int, Set[str]]] = {}
        for kind in ('det', 'seg'):
            for first in (True, False):
                skip = 0 if first else len(self.separator[kind])
                table: Dict[int, Set[str]] = {}
                for name, part in zip(names[kind],
                                      self.class_parts[(kind, first)]):
                    table.setdefault(part[skip], set()).add(name)
                self.start_names[(kind, first)] = table
        self._item_cache: Dict[tuple, Tuple[int, ...]] = {}
        self._outside_cache: Dict[tuple, List[int]] = {}

    def decision_after(self) -> Set[int]:
        """Tokens after which a class choice comes: the open tags and the
        separator's last token. The next token (a class name or the closing
        tag) is where the class-switch and run-stop rules ask the model."""
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

    def _parsers(self, contexts: Sequence[Optional[str]],
                 policy: Union[bool, Iterable[str]] = False
                 ) -> List[_RowParser]:
        return [
            _RowParser(self, context_items(c)
                       if self.level in CONTEXT_LEVELS else None, policy)
            for c in contexts
        ]

    @staticmethod
    def _sync(rows: List[_RowParser], batch_id: int,
              tokens: List[int]) -> _RowParser:
        """The row's parser, fed the tokens generated since the last call
        (a fresh one when a new ``generate`` reuses the rows)."""
        parser = rows[batch_id]
        if len(tokens) < parser.fed:
            parser = rows[batch_id] = _RowParser(parser.o, parser.items,
                                                 parser.policy)
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
        rows = self._parsers(contexts)

        def allowed(batch_id: int, sent: Tensor) -> List[int]:
            # generate() from inputs_embeds passes the generated ids only
            tokens = sent.tolist()
            parser = self._sync(rows, batch_id, tokens)
            return parser.allowed(max_new_tokens - len(tokens))

        return allowed

    def processor(self, contexts: Sequence[Optional[str]],
                  max_new_tokens: int,
                  switch_prob: KindProb = None,
                  run_stop_prob: KindProb = None,
                  switch_rule: str = 'best'
                  ) -> 'DetSegLogitsProcessor':
        """The constraint as a ``LogitsProcessor`` for one ``generate`` call
        (``contexts`` and ``max_new_tokens`` as for :meth:`build`); with
        ``switch_prob`` the context levels copy classes in runs and switch
        class only where the model wants another one (see
        :class:`DetSegLogitsProcessor`)."""
        return DetSegLogitsProcessor(self, contexts, max_new_tokens,
                                     switch_prob, run_stop_prob, switch_rule)

    def check(self, tokens: Sequence[int], context: Optional[str] = None,
              policy: bool = False) -> bool:
        """Whether ``tokens`` is an answer this constraint allows (tests)."""
        parser = self._parsers([context], policy)[0]
        for token in tokens:
            if token not in parser.allowed(10**9):
                return False
            parser.feed(token)
        return True


class DetSegLogitsProcessor(LogitsProcessor):
    """:class:`DetSegConstraint` as a ``LogitsProcessor``, with class runs.

    Every token outside the constraint's allowed set gets ``-inf``, as with
    ``prefix_allowed_tokens_fn``. With ``switch_prob`` (context levels) the
    class of each copied item is chosen as follows:

    * **runs**: after an item of class *c*, while the context has more items
      of *c*, the next item is *c*'s next one, unless the model closes the
      block (at the separator or right after it). A class is answered whole
      or cut short, never interleaved with another.
    * **switches**: where a block begins or a run has no items left, the
      model's probabilities over the class names and the closing tag
      decide: its most likely class that has items left is written if the
      model gives it at least ``switch_prob`` and more than the closing tag;
      otherwise the block closes. An answer to "only the circles" then ends
      when the circles run out, although the model cannot see that the
      context holds no more of them (it gives the other classes almost no
      probability), while "all objects" goes on to the next class (it gives
      them some).
    * **run stops** (``run_stop_prob``): inside a run, the block closes
      before the class's items run out only where the model gives the
      closing tag at least ``run_stop_prob`` against the run's next item
      (``1.0``: classes are copied whole; ``None``: greedy decides).

    ``switch_rule`` says which probability the switch threshold reads:
    ``'best'`` (default) that of the most likely class with items left;
    ``'any'`` that of going on at all, the summed probability of every
    class not yet written in the block (the model's "next class" may be one
    the context lacks: "all objects" then still goes on, with the most
    likely class that has items left).

    Both options take one value or a dict per block kind (``'det'``,
    ``'seg'``; see :func:`per_block_kind`).

    A block closed after a separator ends in ``;</DET>``, which the codec
    reads as the same block; :func:`tidy_answer` removes the separator. At
    the ``'grammar'`` level (no context, no runs) every class is available,
    and the switch rule decides between another item and the end.
    """

    def __init__(self, constraint: DetSegConstraint,
                 contexts: Sequence[Optional[str]], max_new_tokens: int,
                 switch_prob: KindProb = None,
                 run_stop_prob: KindProb = None,
                 switch_rule: str = 'best') -> None:
        self.switch_rule = check_switch_rule(switch_rule)
        self.constraint = constraint
        self.switch_prob = per_block_kind(switch_prob)
        self.run_stop_prob = per_block_kind(run_stop_prob, 'run_stop_prob')
        self.rows = constraint._parsers(
            contexts, policy=[k for k, p in self.switch_prob.items()
                              if p is not None])
        self.max_new_tokens = max_new_tokens
        self._starts = {
            key: torch.tensor(sorted(ids), dtype=torch.long)
            for key, ids in constraint.class_starts.items()
        }

    def __call__(self, input_ids: Tensor, scores: Tensor) -> Tensor:
        # generate() from inputs_embeds passes the generated ids only
        mask = torch.full_like(scores, float('-inf'))
        for row in range(scores.shape[0]):
            tokens = input_ids[row].tolist()
            parser = self.constraint._sync(self.rows, row, tokens)
            remaining = self.max_new_tokens - len(tokens)
            allowed = parser.allowed(remaining)
            if parser.kind in parser.policy and parser.at_class_choice():
                allowed = self._choose_class(parser, remaining, allowed,
                                             scores[row])
            elif parser.kind in parser.policy and parser.in_run():
                # an item of a run is complete: close here only as the
                # run's stop rule allows
                allowed = self._stop_or_go(parser, allowed, scores[row])
            mask[row, allowed] = 0
        return scores + mask

    def _choose_class(self, parser: _RowParser, remaining: int,
                      allowed: List[int], scores: Tensor) -> List[int]:
        """The tokens allowed where a class name starts (see the class
        doc)."""
        close = parser.v.close[parser.kind]
        run = None if parser.first else parser.run_class()
        if run is not None:  # go on with the run, or end the block here
            return self._stop_or_go(
                parser, sorted(set(parser.next_ids(remaining, run)) | {close}),
                scores)
        starts = self._starts[(parser.kind, parser.first)].to(scores.device)
        probs = torch.cat([scores[starts], scores[close:close + 1]]).float(
        ).softmax(-1)
        ok = torch.tensor([t in allowed for t in starts.tolist()],
                          device=scores.device)
        if not ok.any():
            return [close]
        best = int(torch.where(ok, probs[:-1], -1.0).argmax())
        go = probs[best]
        if self.switch_rule == 'any':
            names = self.constraint.start_names[(parser.kind, parser.first)]
            done = parser.written_classes()
            fresh = torch.tensor(
                [not names[t] <= done for t in starts.tolist()],
                device=scores.device)
            go = probs[:-1][fresh].sum()
        if go < self.switch_prob[parser.kind] or go <= probs[-1]:
            return [close]
        return [int(starts[best])]

    def _stop_or_go(self, parser: _RowParser, allowed: List[int],
                    scores: Tensor) -> List[int]:
        """Inside a class run: the closing tag alone if the model gives it
        at least ``run_stop_prob`` against going on, else going on only;
        without ``run_stop_prob`` the model's argmax decides."""
        stop = self.run_stop_prob[parser.kind]
        close = parser.v.close[parser.kind]
        go = [t for t in allowed if t != close]
        if stop is None or not go or len(go) == len(allowed):
            return allowed
        ids = torch.tensor(go + [close], device=scores.device)
        probs = scores[ids].float().softmax(-1)
        return [close] if probs[-1] >= stop else go


def check_switch_rule(value: str, name: str = 'switch_rule') -> str:
    """``value`` if it is one of :data:`SWITCH_RULES`, else a
    ``ValueError`` naming ``name``."""
    if value not in SWITCH_RULES:
        raise ValueError(f'{name} must be one of {SWITCH_RULES}, got '
                         f'{value!r}')
    return value


def per_block_kind(value: KindProb,
                   name: str = 'switch_prob') -> Dict[str, Optional[float]]:
    """A probability option (``switch_prob``, ``run_stop_prob``) per block
    kind: one value for both, or a dict such as ``dict(det=0.2, seg=None)``
    (a kind left out is ``None``: the option is off for it). Raises
    ``ValueError`` naming ``name`` on anything else."""
    if value is None or isinstance(value, (int, float)):
        out = dict(det=value, seg=value)
    elif isinstance(value, dict):
        unknown = set(value) - {'det', 'seg'}
        if unknown:
            raise ValueError(f'{name}: unknown block kinds {sorted(unknown)}'
                             '; use "det" and "seg"')
        out = dict(det=value.get('det'), seg=value.get('seg'))
    else:
        raise ValueError(f'{name} must be a number in [0, 1], None or a '
                         f'dict per block kind, got {value!r}')
    for kind, p in out.items():
        if p is not None and (isinstance(p, bool) or
                              not isinstance(p, (int, float))
                              or not 0 <= p <= 1):
            raise ValueError(f'{name} of the {kind} block must be in [0, 1] '
                             f'or None, got {p!r}')
    return out


def terminate_items(text: str) -> str:
    """End the last item of each non-empty block with the separator
    (``a; b</DET>`` -> ``a; b;</DET>``); :func:`tidy_answer` undoes it."""
    return _LAST_ITEM.sub(ITEM_SEP.strip() + r'\1', text)


def tidy_answer(text: str) -> str:
    """Drop a separator left before a closing tag (``;</DET>`` ->
    ``</DET>``), as :class:`DetSegLogitsProcessor` can leave one."""
    return _TRAILING_SEP.sub(r'\1', text)
