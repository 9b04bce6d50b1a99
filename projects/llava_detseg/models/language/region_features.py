"""Region features: the image tokens under each box of a ``<DET>`` context,
added to the embedding of the class name in front of it.

A grounded prompt lists the heads' boxes as ``circle <loc_a><loc_b><loc_c>
<loc_d>``. The language model can match a question's words with the
context's class names by text alone, but what a box *looks like* (its
colour, its texture) is only in the image tokens at its place, and finding
those from four ``<loc_i>`` embeddings is a mapping a small model does not
learn in a short schedule. So each box's name token also carries the mean of
the projected image tokens its box covers, an RoI feature in the spirit of
GPT4RoI's and Shikra's region references: "What color is the square?"
becomes "read the token named square". The branch gates the feature
(``tanh`` of a learned scalar, 0 at first): added whole, an image token
(norm ~10x a name token's) drowned the name the question is matched with.
Or (``'token'``) the feature is a token of its own after the box, as
GPT4RoI fills its ``<bbox>`` placeholders: names and boxes keep their
embeddings.

Only the prompt's boxes get one (``limit``): an answer's boxes are written
by the model one token at a time and carry none, in training as in
generation.
"""
from contextlib import contextmanager
from typing import (Callable, Dict, Iterator, List, Optional, Sequence,
                    Tuple, Union)

import torch
from torch import Tensor, nn

from llava_detseg.structures.text_tokens import (DET_CLOSE, DET_OPEN,
                                                 ITEM_SEP)
from .conversation import IGNORE_INDEX, IMAGE_PLACEHOLDER

BOX_LOCS = 4  # x1 y1 x2 y2
# the id of an inserted region row ('token' mode), beside the image's
REGION_PLACEHOLDER = IMAGE_PLACEHOLDER - 1


class RegionFeatures:
    """Find the ``<DET>`` items of a token sequence and pool their regions.

    Args:
        tokenizer: The language branch's tokenizer, holding the text
            format's tokens (``special_tokens`` of the branch).
        num_bins (int): Coordinate bins of the ``<loc_i>`` tokens.
    """

    def __init__(self, tokenizer, num_bins: int) -> None:
        ids = tokenizer.convert_tokens_to_ids(
            [DET_OPEN, DET_CLOSE] + [f'<loc_{i}>' for i in range(num_bins)])
        if tokenizer.unk_token_id in ids:
            raise ValueError(
                'language.region_features needs the <DET> / <loc_i> tokens: '
                'set language.special_tokens')
        self.tokenizer = tokenizer
        self._pieces: Dict[int, str] = {}  # id -> its text, stripped
        self._pooled: Optional[Dict[tuple, Tensor]] = None  # reuse_pooled
        self.det_open, self.det_close = ids[0], ids[1]
        self.loc_bin: Dict[int, int] = {t: b for b, t in enumerate(ids[2:])}
        self.num_bins = num_bins

    @contextmanager
    def reuse_pooled(self) -> Iterator[None]:
        """Within the block, :meth:`pool` gives the same tensor for the same
        image rows and boxes: an image's conversations share its ``<DET>``
        block, and their regions are pooled (and back-propagated) once."""
        self._pooled = {}
        try:
            yield
        finally:
            self._pooled = None

    def items(self, ids: Sequence[int],
              limit: Optional[int] = None) -> List[Tuple[int, List[int]]]:
        """``(position of the token before the box, [x1, y1, x2, y2] bins)``
        of every box of a ``<DET>`` block among ``ids[:limit]``."""
        return [(name, box) for name, box, _ in self.scan(ids, limit)]

    def scan(self, ids: Sequence[int], limit: Optional[int] = None
             ) -> List[Tuple[int, List[int], int]]:
        """As :meth:`items`, each with the position after its box too."""
        n = len(ids) if limit is None else min(limit, len(ids))
        out, inside, i = [], False, 0
        while i < n:
            t = ids[i]
            if t == self.det_open:
                inside = True
            elif t == self.det_close:
                inside = False
            elif inside and t in self.loc_bin:
                j = i
                while j < n and ids[j] in self.loc_bin:
                    j += 1
                name = self._name_end(ids, i)
                if j - i == BOX_LOCS and name is not None:
                    out.append((name, [self.loc_bin[ids[k]]
                                       for k in range(i, j)], j))
                i = j
                continue
            i += 1
        return out

    def _name_end(self, ids: Sequence[int], i: int) -> Optional[int]:
        """The last token before ``i`` that is not a space (the codec
        writes ``name <loc>``: tokenizers spell that space apart)."""
        k = i - 1
        while k >= 0 and self._is_blank(ids[k]):
            k -= 1
        return k if k >= 0 and ids[k] not in (self.det_open,
                                              self.det_close) else None

    def _piece(self, token: int) -> str:
        """The token's text, stripped (cached: blocks repeat few ids)."""
        if token not in self._pieces:
            self._pieces[token] = self.tokenizer.decode([token]).strip()
        return self._pieces[token]

    def _is_blank(self, token: int) -> bool:
        return not self._piece(token)

    def weights(self, boxes: Sequence[Sequence[int]], side: int,
                device=None) -> Tensor:
        """(K, side * side) area weights of each box (in bins) over a square
        token grid (:func:`grid_weights`)."""
        b = torch.as_tensor(boxes, dtype=torch.float32, device=device)
        # a box's last bin is inside it
        return grid_weights(b[:, :2] / self.num_bins,
                            (b[:, 2:] + 1) / self.num_bins, side, side)

    def add(self, emb: Tensor, ids: Sequence[int], image: Tensor,
            limit: Optional[int] = None, skip: int = 0,
            transform: Optional[Callable[[Tensor], Tensor]] = None,
            span: str = 'name') -> Tensor:
        """``emb`` (L, D) with each prompt box's region feature (through
        ``transform``: the branch's gate or projection) added at its name
        token (``span='name'``); at its name and its box's ``<loc_i>``
        tokens (``'item'``: wherever attention to the item lands, the region
        is there); or at its name and at every later mention of that name in
        the prompt (``'mention'``: "What color is the circle?" then carries
        the circles' regions on its own word, the mean of them where the
        block lists several). ``image`` (``skip`` + S * S, D) are the
        projected image tokens on their square grid (``skip``: a kept CLS
        token first)."""
        found = self.scan(ids, limit)
        if not found:
            return emb
        feats = self.pool([box for _, box, _ in found], image, skip,
                          transform).to(emb.dtype)
        if span == 'item':
            pos = [[p, *range(end - BOX_LOCS, end)] for p, _, end in found]
            rows = torch.as_tensor([k for k, ps in enumerate(pos)
                                    for _ in ps], device=emb.device)
            pos = [q for ps in pos for q in ps]
            feats = feats[rows]
        else:
            pos = [p for p, _, _ in found]
        pos = torch.as_tensor(pos, device=emb.device)
        emb = emb.index_add(0, pos, feats)
        if span == 'mention':
            emb = self._add_at_mentions(emb, ids, found, feats, limit)
        return emb

    def _add_at_mentions(self, emb: Tensor, ids: Sequence[int],
                         found: list, feats: Tensor,
                         limit: Optional[int]) -> Tensor:
        """Each item name's later mentions (its whole token sequence, after
        the block and before ``limit``) get the mean region of the items of
        that name, at the mention's last token (as the block's name)."""
        names: Dict[Tuple[int, ...], List[int]] = {}
        for k, (name_end, _, _) in enumerate(found):
            names.setdefault(self._name_tokens(ids, name_end),
                             []).append(k)
        after = max(end for _, _, end in found)
        n = len(ids) if limit is None else min(limit, len(ids))
        pos, rows = [], []
        for name, items in names.items():
            w = len(name)
            for i in range(after, n - w + 1):
                if tuple(ids[i:i + w]) == name:
                    pos.append(i + w - 1)
                    rows.append(items)
        if not pos:
            return emb
        add = torch.stack([feats[r].mean(0) for r in rows])
        return emb.index_add(0, torch.as_tensor(pos, device=emb.device), add)

    def _name_tokens(self, ids: Sequence[int], end: int) -> Tuple[int, ...]:
        """The token ids of the name ending at ``end``, blanks left out."""
        return tuple(t for t in ids[self.name_start(ids, end):end + 1]
                     if not self._is_blank(t))

    def name_start(self, ids: Sequence[int], end: int) -> int:
        """Where the name ending at ``end`` starts: after the block's open
        tag, a box or the item separator, its leading blanks skipped."""
        k = end
        while k > 0 and ids[k - 1] not in (self.det_open, self.det_close) \
                and ids[k - 1] not in self.loc_bin \
                and not self._is_separator(ids[k - 1]):
            k -= 1
        while k < end and self._is_blank(ids[k]):
            k += 1
        return k

    def _is_separator(self, token: int) -> bool:
        return self._piece(token) == ITEM_SEP.strip()

    def insert(self, emb: Tensor, ids: Sequence[int],
               labels: Optional[Sequence[int]], image: Tensor,
               limit: Optional[int] = None, skip: int = 0,
               transform: Optional[Callable[[Tensor], Tensor]] = None
               ) -> Tuple[Tensor, List[int], Optional[List[int]]]:
        """``emb`` (L, D) with one more row after each prompt box: its
        region feature, a token of its own (GPT4RoI's ``<bbox>``
        placeholders, filled with RoI features). Nothing of the name or of
        the box's ``<loc_i>`` tokens is changed, so matching a question's
        words with the names and copying boxes read the same embeddings as
        without regions.

        Returns ``(emb, ids, labels)`` with :data:`REGION_PLACEHOLDER` in
        ``ids`` and ``ignore`` in ``labels`` (if given) at the new rows.
        """
        found = self.scan(ids, limit)
        if not found:
            return emb, list(ids), None if labels is None else list(labels)
        feats = self.pool([box for _, box, _ in found], image, skip,
                          transform).to(emb.dtype)
        rows, new_ids, new_labels, start = [], [], [], 0
        for k, (_, _, end) in enumerate(found):
            rows += [emb[start:end], feats[k:k + 1]]
            new_ids += list(ids[start:end]) + [REGION_PLACEHOLDER]
            if labels is not None:
                new_labels += list(labels[start:end]) + [IGNORE_INDEX]
            start = end
        rows.append(emb[start:])
        new_ids += list(ids[start:])
        if labels is not None:
            new_labels += list(labels[start:])
        return (torch.cat(rows), new_ids,
                None if labels is None else new_labels)

    def pool(self, boxes: Sequence[Sequence[int]], image: Tensor,
             skip: int = 0,
             transform: Optional[Callable[[Tensor], Tensor]] = None
             ) -> Tensor:
        """(K, D) area-weighted means of ``image``'s square grid under
        ``boxes`` (bins), through ``transform``."""
        key = None
        if self._pooled is not None:
            # the rows (a view's data_ptr includes its offset) and whether
            # they are read detached
            key = (image.data_ptr(), tuple(image.shape), image.requires_grad,
                   skip, tuple(tuple(b) for b in boxes))
            if key in self._pooled:
                return self._pooled[key]
        grid = image[skip:]
        side = int(round(grid.shape[0]**0.5))
        if side * side != grid.shape[0]:
            raise ValueError('language.region_features needs a square grid '
                             f'of image tokens, got {grid.shape[0]}')
        w = self.weights(boxes, side, grid.device)
        feats = w.to(grid.dtype) @ grid
        feats = feats if transform is None else transform(feats)
        if key is not None:
            self._pooled[key] = feats
        return feats


def grid_weights(lo: Tensor, hi: Tensor, rows: int, cols: int) -> Tensor:
    """(K, rows * cols) area weights of boxes over a token grid, rows summing
    to 1: ``lo`` / ``hi`` (K, 2) are each box's (x, y) corners as fractions
    of the image; a box thinner than a token takes the token under its
    centre."""
    overlaps = []
    for axis, n in ((0, cols), (1, rows)):
        edges = torch.arange(n + 1, dtype=lo.dtype, device=lo.device) / n
        # (K, n): overlap of [lo, hi] with each token's [e_c, e_c+1]
        overlaps.append((torch.minimum(hi[:, axis, None], edges[1:]) -
                         torch.maximum(lo[:, axis, None], edges[:-1])
                         ).clamp_min(0))
    w = (overlaps[1][:, :, None] * overlaps[0][:, None, :]).flatten(1)
    empty = w.sum(1) <= 0
    if empty.any():
        size = torch.tensor([cols, rows], device=lo.device)
        centre = ((lo + hi) / 2 * size).long()
        centre = torch.minimum(centre.clamp_min(0), size - 1)
        cell = centre[:, 1] * cols + centre[:, 0]
        w[empty] = 0
        w[empty, cell[empty]] = 1
    return w / w.sum(1, keepdim=True)


def check_region_span(span: str, features: Union[bool, str]) -> str:
    """``span`` if it is ``'name'``, or ``'item'`` / ``'mention'`` with
    regions added to the names (not ``'token'``, not off); else one line
    naming both keys."""
    if span not in ('name', 'item', 'mention') or (
            span != 'name' and (not features or features == 'token')):
        raise ValueError(
            "language.region_span must be 'name', 'item' or 'mention', and "
            "'item' / 'mention' need language.region_features added to the "
            "names (True, 'gate', 'norm', 'linear'), got "
            f'{span!r} with {features!r}')
    return span


def region_mixer(mode: Union[bool, str], width: int, scale: float = 1.0
                 ) -> Tuple[Optional[nn.Parameter], Optional[nn.Module]]:
    """What scales a pooled region before it is added to its name, as
    ``(gate, projection)`` (one of them None).

    ``'token'``: nothing; the region is not added to the name but inserted
    after its box as a token of its own (:meth:`RegionFeatures.insert`),
    as an image token is.

    ``'gate'`` (or ``True``): a tanh-gated scalar from 0, as Flamingo's
    cross-attention (an image token's norm is ~10x a name token's; added
    whole it drowned the name the question is matched with). ``'linear'``:
    a LayerNorm and a zero-initialised linear layer, which learns which
    directions of a region to pass (on the embedded default the scalar gate
    stayed near 0: tanh(gate) ~ -0.02 after training). ``'norm'``: a
    LayerNorm whose per-channel scale starts at ``scale`` (the token
    embeddings' std), so the region is added at a name token's own size from
    the first step, and the name and its colour are both legible in the sum
    (a gate from 0 was still at 0.013 after the default's 875 steps: the
    region never reached the language model).
    """
    mode = 'gate' if mode is True else mode
    if mode == 'token':  # a row of its own, in the image tokens' space
        return None, nn.Identity()
    if mode == 'gate':
        return nn.Parameter(torch.zeros(1)), None
    if mode == 'norm':
        norm = nn.LayerNorm(width)
        nn.init.constant_(norm.weight, scale)
        return None, norm
    if mode == 'linear':
        linear = nn.Linear(width, width)
        nn.init.zeros_(linear.weight)
        nn.init.zeros_(linear.bias)
        return None, nn.Sequential(
            nn.LayerNorm(width, elementwise_affine=False), linear)
    raise ValueError('language.region_features must be True, "gate", '
                     f'"norm", "linear" or "token", got {mode!r}')
