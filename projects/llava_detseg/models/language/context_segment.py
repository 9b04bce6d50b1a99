"""A segment embedding for the prompt's ``<DET>`` / ``<SEG>`` blocks.

A grounded prompt repeats the question's words: "Is there a red circle?"
follows ``<DET>circle <loc_a>...; square ...</DET>``, and the question's
``circle`` is the same token, with the same embedding, as the block's. A
shallow language model that looks for "the asked class" from the answer
position then finds every class of the block as well as the question's.
BERT's segment embeddings tell two texts of one sequence apart the same
way: here every token inside a prompt block gets one learned vector added,
so a block's words and the question's words differ from the first layer on.

Only the prompt's blocks get it (``limit``), as region features: an
answer's blocks are written one token at a time by the model from its plain
embeddings, in training as in generation.
"""
from typing import Optional, Sequence

import torch
from torch import Tensor, nn

from llava_detseg.structures.text_tokens import (DET_CLOSE, DET_OPEN,
                                                 SEG_CLOSE, SEG_OPEN)


class ContextSegment(nn.Module):
    """Add a learned vector to every token inside a prompt block.

    Args:
        tokenizer: The branch's tokenizer, holding the format's tokens.
        width (int): The language model's embedding width.
        std (float): Initial scale of the vector (the embedding rows'
            standard deviation is a natural choice): a vector that starts
            at zero would leave the two texts alike until it has grown.
    """

    def __init__(self, tokenizer, width: int, std: float) -> None:
        super().__init__()
        ids = tokenizer.convert_tokens_to_ids(
            [DET_OPEN, DET_CLOSE, SEG_OPEN, SEG_CLOSE])
        if tokenizer.unk_token_id in ids or None in ids:
            raise ValueError('language.context_segment needs the <DET> / '
                             '<SEG> tokens: set language.special_tokens')
        self.opens = {ids[0]: ids[1], ids[2]: ids[3]}
        self.embedding = nn.Parameter(torch.randn(width) * std)

    def mask(self, ids: Sequence[int], limit: Optional[int] = None
             ) -> Tensor:
        """(L, ) bool: the tokens of ``ids[:limit]`` from a block's open tag
        to its close tag, both included."""
        n = len(ids) if limit is None else min(limit, len(ids))
        inside = torch.zeros(len(ids), dtype=torch.bool)
        close = None
        for i in range(n):
            t = ids[i]
            if close is None and t in self.opens:
                close = self.opens[t]
            if close is not None:
                inside[i] = True
                if t == close:
                    close = None
        return inside

    def forward(self, emb: Tensor, ids: Sequence[int],
                limit: Optional[int] = None) -> Tensor:
        """``emb`` (L, D) of ``ids`` with the vector added inside blocks."""
        inside = self.mask(ids, limit).to(emb.device)
        if not inside.any():
            return emb
        return emb + inside[:, None].to(emb.dtype) * self.embedding.to(
            emb.dtype)
