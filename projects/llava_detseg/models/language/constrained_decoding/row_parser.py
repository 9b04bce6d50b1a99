"""The grammar / context state machine: one answer row followed token by
token, and the tokens it allows next (see the package doc for the levels).
"""
from typing import TYPE_CHECKING, Dict, List, Optional, Set, Tuple

if TYPE_CHECKING:
    from .constraint import DetSegConstraint


class RowParser:
    """Follows one generated answer token by token and says which tokens may
    come next."""

    def __init__(self, owner: 'DetSegConstraint',
                 items: Optional[Dict[str, List[str]]],
                 runs: bool = False) -> None:
        self.o = owner
        self.v = owner.vocab
        self.items = items  # None: grammar level
        # class runs (DetSegLogitsProcessor): a block may also close after
        # a separator, where the processor decides
        self.runs = bool(runs)
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
                not self.buf or self.runs and self.at_class_choice()):
            # the end of the block (after a separator: a class run ended it)
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

    def starts_in_context_order(self) -> List[int]:
        """The token that starts each unused context item of the open block
        at a class choice, in context order (context levels): the order in
        which the context names the classes it has left."""
        at = 0 if self.first else len(self.o.separator[self.kind])
        return [seq[at] for _, seq in self._candidates()]

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
        if self.runs and not self.first and n < len(sep) and \
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
        if self.runs and self.at_class_choice():
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
        return self.o.shortest_class[(self.kind, self.first)] + \
            self._min_body()

    def _min_body(self) -> int:
        """Tokens after the class name of the shortest grammar-level item:
        four locs, or ``<poly>``, three vertices and ``</poly>``."""
        return 4 if self.kind == 'det' else 8

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
            # class names whose item still fits with the closing tag: a
            # separator written where the budget had room only for it (a
            # block may close after one, ``terminate_items``) must not lead
            # into a longer name than the budget can finish
            buf = tuple(self.buf)
            if self.count >= self.o.max_items[self.kind]:
                return []
            return sorted({
                p[n] for p in self.o.class_parts[(self.kind, self.first)]
                if len(p) > n and p[:n] == buf
                and len(p) - n + self._min_body() < remaining
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
