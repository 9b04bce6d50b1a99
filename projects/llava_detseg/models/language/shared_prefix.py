"""Read an image's shared prompt once for all of its conversations.

Every grounded VQA question of an image starts with the same rows: the
system prompt, the image's tokens and its ``<DET>`` block. Run as separate
sequences, the language model reads those rows once per question. Packed,
the rows the conversations share are one prefix and each conversation's
rest is a segment after it; a 4D attention mask keeps every segment to the
prefix and itself, and each segment's positions continue from the prefix,
so every answer token sees exactly the rows and positions it would see in
its own sequence: the logits are the separate sequences' (to float
rounding), for fewer rows.

The images' units (prefix and segments) then share rows, first fit from the
longest, up to the longest unit's length, each unit seeing only itself: a
batch of one text instruction per image, 120-440 tokens long, fills about
half of its rows when padded to the longest; packed, most of them.

This is not ``MergeConversations``, which makes an image's questions the
turns of one conversation: there each answer sees the earlier ones (the
tiny model then never learned yes/no; configs/ablations/vqa/).
"""
from typing import Dict, List, NamedTuple, Optional, Sequence, Tuple

import torch
from torch import Tensor
from torch.nn.utils.rnn import pad_sequence

from .conversation import IGNORE_INDEX
from .vision_tokens import pad_sequences


class PackedSequences(NamedTuple):
    """Packed rows for the language model and where to read each target.

    ``inputs`` (R, T, D), ``attention_mask`` (R, 1, T, T) additive (0 or
    the dtype's minimum), ``position_ids`` (R, T); ``gather`` (K,) flat
    indices into the R x T hidden rows whose next token is a target,
    ``target`` (K,) those tokens and ``seq`` (K,) their conversation, in
    conversation order then position order (the unpacked order).
    """
    inputs: Tensor
    attention_mask: Tensor
    position_ids: Tensor
    gather: Tensor
    target: Tensor
    seq: Tensor


def check_share_prefix(share_prefix: bool, config) -> bool:
    """``share_prefix`` if the loaded model's attention takes a 4D mask
    (eager, sdpa); a flash kernel takes none, so it is refused by key."""
    attn = getattr(config, '_attn_implementation', None)
    if share_prefix and attn not in (None, 'eager', 'sdpa'):
        raise ValueError(f'language.share_prefix=True needs eager or sdpa '
                         f'attention; the model loaded {attn!r}')
    return bool(share_prefix)


def shared_rows(embeds: Sequence[Tensor]) -> int:
    """How many leading rows all ``embeds`` (L_i, D) hold equal.

    Equal embedding rows at equal positions give equal hidden states in a
    causal model, whatever made them (the same ids, the same image tokens,
    the same region features), so the comparison is on the rows themselves.
    """
    n = min(e.shape[0] for e in embeds)
    if len(embeds) < 2:
        return n
    first = embeds[0][:n]
    same = torch.ones(n, dtype=torch.bool, device=first.device)
    for e in embeds[1:]:
        same &= (e[:n] == first).all(dim=1)
    diff = (~same).nonzero()
    return int(diff[0]) if len(diff) else n


def group_by_image(image_index: Sequence[int],
                   keys: Sequence[object]) -> List[List[int]]:
    """Conversation indices grouped by (image, ``keys``) in first-seen
    order (``keys``: what else must match to share rows, e.g. whether the
    image is read detached)."""
    groups: Dict[Tuple[int, object], List[int]] = {}
    for k, (i, key) in enumerate(zip(image_index, keys)):
        groups.setdefault((int(i), key), []).append(k)
    return list(groups.values())


def pack(embeds: Sequence[Tensor], labels: Sequence[Sequence[int]],
         groups: Sequence[Sequence[int]]) -> PackedSequences:
    """Each group as one unit: its shared prefix, then each member's
    remaining rows as a segment; units share rows up to the longest unit's
    length (first fit, longest first), so a batch of one-conversation
    groups of mixed lengths (the text instructions) is not padded to the
    longest either. Units in one row never see each other, and each one's
    positions start at 0.

    Args:
        embeds: (L_i, D) embedded conversations.
        labels: Their labels aligned with the rows (``IGNORE_INDEX`` where
            nothing is predicted).
        groups: Conversation indices that share a prefix (see
            :func:`group_by_image`).
    """
    device, dtype = embeds[0].device, embeds[0].dtype
    units = [_unit(embeds, members) for members in groups]
    # where conversation k's original position j lands: (row, col of the
    # unit's start, col of its segment within the unit, prefix length)
    where: Dict[int, Tuple[int, int, int, int]] = {}
    rows: List[List[int]] = []  # unit indices per row
    free: List[int] = []
    capacity = max(len(u.inputs) for u in units)
    for u in sorted(range(len(units)), key=lambda u: -len(units[u].inputs)):
        size = len(units[u].inputs)
        r = next((r for r, f in enumerate(free) if f >= size), len(rows))
        if r == len(rows):
            rows.append([])
            free.append(capacity)
        start = capacity - free[r]
        rows[r].append(u)
        free[r] -= size
        for k, offset in units[u].offsets.items():
            where[k] = (r, start, offset, units[u].prefix)
    inputs, unit_ids, seg_ids, pos_ids = [], [], [], []
    for members in rows:
        inputs.append(torch.cat([units[u].inputs for u in members]))
        unit_ids.append(torch.cat([torch.full_like(units[u].segments, n)
                                   for n, u in enumerate(members)]))
        seg_ids.append(torch.cat([units[u].segments for u in members]))
        pos_ids.append(torch.cat([units[u].positions for u in members]))
    inputs, _ = pad_sequences(inputs, left=False)
    length = inputs.shape[1]
    seg_ids = pad_sequence(seg_ids, batch_first=True, padding_value=-1)
    unit_ids = pad_sequence(unit_ids, batch_first=True, padding_value=-1)
    pos_ids = pad_sequence(pos_ids, batch_first=True)
    gather, target, seq = [], [], []
    for k, lab in enumerate(labels):
        r, start, offset, prefix = where[k]
        lab = torch.as_tensor(lab, dtype=torch.long)
        # position j predicts token j + 1; past the prefix, j sits in the
        # conversation's own segment
        j = (lab[1:] != IGNORE_INDEX).nonzero().squeeze(1)
        col = start + torch.where(j < prefix, j, offset + j - prefix)
        gather.append(r * length + col)
        target.append(lab[j + 1])
        seq.append(torch.full_like(j, k))
    mask = segment_mask(seg_ids, unit_ids)
    additive = torch.zeros(mask.shape, dtype=dtype).masked_fill_(
        ~mask, torch.finfo(dtype).min)
    return PackedSequences(inputs, additive[:, None].to(device),
                           pos_ids.to(device),
                           torch.cat(gather).to(device),
                           torch.cat(target).to(device),
                           torch.cat(seq).to(device))


class _Unit(NamedTuple):
    """One group's rows: ``inputs`` (L, D), ``segments`` (L,) (0: the
    prefix), ``positions`` (L,), ``offsets`` {conversation: column of its
    segment in the unit} and the ``prefix`` length."""
    inputs: Tensor
    segments: Tensor
    positions: Tensor
    offsets: Dict[int, int]
    prefix: int


def _unit(embeds: Sequence[Tensor], members: Sequence[int]) -> _Unit:
    """A group's shared prefix, then each member's rest as a segment."""
    prefix = shared_rows([embeds[k] for k in members])
    parts = [embeds[members[0]][:prefix]]
    seg = [torch.zeros(prefix, dtype=torch.long)]
    pos = [torch.arange(prefix)]
    offsets, offset = {}, prefix
    for s, k in enumerate(members, start=1):
        rest = embeds[k][prefix:]
        parts.append(rest)
        seg.append(torch.full((rest.shape[0], ), s, dtype=torch.long))
        pos.append(torch.arange(prefix, prefix + rest.shape[0]))
        offsets[k] = offset
        offset += rest.shape[0]
    return _Unit(torch.cat(parts), torch.cat(seg), torch.cat(pos), offsets,
                 prefix)


def segment_mask(seg_ids: Tensor,
                 unit_ids: Optional[Tensor] = None) -> Tensor:
    """(R, T, T) which keys each query sees: earlier rows of its unit's
    prefix (segment 0) or of its own segment; padding (-1) sees only
    itself, so that no softmax row is empty. ``unit_ids`` (R, T) tell the
    units of a row apart (default: one unit per row)."""
    n = seg_ids.shape[1]
    causal = torch.ones(n, n, dtype=torch.bool).tril()
    q, k = seg_ids[:, :, None], seg_ids[:, None, :]
    mask = causal & (q >= 0) & (k >= 0) & ((k == 0) | (k == q))
    if unit_ids is not None:
        mask &= unit_ids[:, :, None] == unit_ids[:, None, :]
    pad = (seg_ids < 0)[:, :, None] & torch.eye(n, dtype=torch.bool)
    return mask | pad
