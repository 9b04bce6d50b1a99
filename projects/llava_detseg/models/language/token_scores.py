"""The language model's own confidence in each box it writes.

COCO AP ranks boxes across images, and a text answer has no scores: the
codec's rank scores (``text_parse.answer_rank_scores``) read the written
order, which in a grounded answer is the heads' ranking carried through.
Pix2Seq scores each box it generates by the likelihood of its class token;
here a box of a ``<DET>`` answer gets the probability the model gave its
tokens, its class name's and its four ``<loc>`` tokens', in its own
distribution before constrained decoding masks it: how likely the model
was to write that item at that point. A grounded answer's items are
copied from the context (the decoder keeps them all), so the score is
the model's judgement of each copied box: whether it would have written
that box next, or another of the context's, or closed the class.

:class:`ChosenTokenProbs` records that probability at every decoding step
without keeping any step's full distribution (a 32k vocabulary x hundreds
of steps x the batch would not fit), and :func:`item_scores` reads one
score per box from them.
"""
from typing import List, Optional, Sequence

import numpy as np
import torch
from torch import Tensor
from transformers import LogitsProcessor

from .region_features import RegionFeatures


class ChosenTokenProbs(LogitsProcessor):
    """A logits processor that changes nothing and keeps, per step, the
    probability of the token then chosen in the distribution it is given
    (placed first, the model's own; after the processors that mask, the
    distribution the choice was made from).

    A step's token is known at the next call (``input_ids[:, -1]``); the
    last step's at :meth:`finish`.
    """

    def __init__(self) -> None:
        self.steps: List[Tensor] = []
        self._last: Optional[Tensor] = None

    def __call__(self, input_ids: Tensor, scores: Tensor) -> Tensor:
        if self._last is not None:
            self.steps.append(self._pick(self._last, input_ids[:, -1]))
        self._last = scores.float().log_softmax(-1)
        return scores

    @staticmethod
    def _pick(logprobs: Tensor, chosen: Tensor) -> Tensor:
        return logprobs.gather(1, chosen[:, None]).squeeze(1).exp()

    def finish(self, sequences: Tensor) -> Tensor:
        """(B, T) probabilities of ``sequences``' (B, T) generated tokens
        (1 where decoding had stopped and padded)."""
        steps = list(self.steps)
        if self._last is not None:
            steps.append(self._pick(self._last,
                                    sequences[:, len(steps)].to(
                                        self._last.device)))
        probs = torch.stack(steps, 1) if steps else sequences.new_ones(
            sequences.shape[0], 0, dtype=torch.float32)
        return probs[:, :sequences.shape[1]].cpu()


def item_scores(scanner: RegionFeatures, ids: Sequence[int],
                probs: Sequence[float]) -> List[float]:
    """One score per box of the ``<DET>`` blocks in generated ``ids``: the
    probability of the item's tokens, its class name's first to its last
    ``<loc>`` (aligned ``probs``): how likely the model was to write this
    item there, its class and which of the context's boxes."""
    out = []
    for name_end, _, end in scanner.scan(ids):
        start = scanner.name_start(ids, name_end)
        out.append(float(np.prod(probs[start:end], dtype=np.float64))
                   if end <= len(probs) else 0.0)
    return out
