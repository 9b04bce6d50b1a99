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

This is not ``MergeConversations``, which makes an image's questions the
turns of one conversation: there each answer sees the earlier ones (the
tiny model then never learned yes/no; configs/ablations/vqa/).
"""
from typing import Dict, List, NamedTuple, Sequence, Tuple

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
    """One row per group: the group's shared prefix, then each member's
    remaining rows as a segment.

    Args:
        embeds: (L_i, D) embedded conversations.
        labels: Their labels aligned with the rows (``IGNORE_INDEX`` where
            nothing is predicted).
        groups: Conversation indices per packed row (see
            :func:`group_by_image`).
    """
    device, dtype = embeds[0].device, embeds[0].dtype
    rows, segments, positions = [], [], []
    # where conversation k's original position j lands: (row, offset, P)
    where: Dict[int, Tuple[int, int, int]] = {}
    for r, members in enumerate(groups):
        prefix = shared_rows([embeds[k] for k in members])
        parts = [embeds[members[0]][:prefix]]
        seg = [torch.zeros(prefix, dtype=torch.long)]
        pos = [torch.arange(prefix)]
        offset = prefix
        for s, k in enumerate(members, start=1):
            rest = embeds[k][prefix:]
            parts.append(rest)
            seg.append(torch.full((rest.shape[0], ), s, dtype=torch.long))
            pos.append(torch.arange(prefix, prefix + rest.shape[0]))
            where[k] = (r, offset, prefix)
            offset += rest.shape[0]
        rows.append(torch.cat(parts))
        segments.append(torch.cat(seg))
        positions.append(torch.cat(pos))
    inputs, _ = pad_sequences(rows, left=False)
    length = inputs.shape[1]
    seg_ids = pad_sequence(segments, batch_first=True, padding_value=-1)
    pos_ids = pad_sequence(positions, batch_first=True)
    gather, target, seq = [], [], []
    for k, lab in enumerate(labels):
        r, offset, prefix = where[k]
        lab = torch.as_tensor(lab, dtype=torch.long)
        # position j predicts token j + 1; past the prefix, j sits in the
        # conversation's own segment
        j = (lab[1:] != IGNORE_INDEX).nonzero().squeeze(1)
        col = torch.where(j < prefix, j, offset + j - prefix)
        gather.append(r * length + col)
        target.append(lab[j + 1])
        seq.append(torch.full_like(j, k))
    mask = segment_mask(seg_ids)
    additive = torch.zeros(mask.shape, dtype=dtype).masked_fill_(
        ~mask, torch.finfo(dtype).min)
    return PackedSequences(inputs, additive[:, None].to(device),
                           pos_ids.to(device),
                           torch.cat(gather).to(device),
                           torch.cat(target).to(device),
                           torch.cat(seq).to(device))


def segment_mask(seg_ids: Tensor) -> Tensor:
    """(R, T, T) which keys each query sees: earlier rows of the prefix
    (segment 0) or of its own segment; padding (-1) sees only itself, so
    that no softmax row is empty."""
    n = seg_ids.shape[1]
    causal = torch.ones(n, n, dtype=torch.bool).tril()
    q, k = seg_ids[:, :, None], seg_ids[:, None, :]
    mask = causal & (q >= 0) & (k >= 0) & ((k == 0) | (k == q))
    pad = (seg_ids < 0)[:, :, None] & torch.eye(n, dtype=torch.bool)
    return mask | pad
