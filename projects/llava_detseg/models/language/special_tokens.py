"""The ``<DET>`` / ``<SEG>`` / ``<poly>`` / ``<loc_i>`` tokens of the text format.

Adding them: :func:`add_detseg_tokens` puts them in the tokenizer as added,
non-normalised tokens (so the tokenizer never splits them) that are *not*
"special" in the transformers sense (so ``decode(...,
skip_special_tokens=True)`` keeps them in the answer, where the parser needs
them). Their ids are always read back with ``convert_tokens_to_ids``.

Training them: the language model may be frozen (LLaVA-1.5 recipe) or under
LoRA, yet the new rows of the input embedding and of ``lm_head`` must learn.
:func:`install_token_deltas` swaps both modules for subclasses that add a
small trainable table (``special_delta``, one row per new token) to the
frozen rows. A delta table was chosen over gradient-mask hooks on the full
matrices because with hooks (1) AdamW's decoupled weight decay still shrinks
every "frozen" row, (2) the optimizer keeps state for the whole vocabulary,
and (3) a checkpoint / LoRA-save hook that keeps only trainable parameters
would have to save the whole matrix. With the table the frozen rows stay
bit-identical, the optimizer sees ``K x D`` numbers per module, and
``special_delta`` is an ordinary trainable parameter that every saver keeps.
The subclasses keep the ``weight`` parameter name, so state-dict keys of the
base model do not change.
"""
from typing import List, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from llava_detseg.structures.text_codec import NUM_BINS, special_tokens


def add_detseg_tokens(tokenizer, num_bins: int = NUM_BINS) -> List[int]:
    """Add the format's tokens that ``tokenizer`` lacks; return all their ids.

    Args:
        tokenizer: a transformers tokenizer (fast).
        num_bins (int): Number of ``<loc_i>`` tokens.

    Returns:
        list[int]: Ids of :func:`special_tokens` in their order.
    """
    from transformers import AddedToken
    tokens = special_tokens(num_bins)
    vocab = tokenizer.get_vocab()
    missing = [t for t in tokens if t not in vocab]
    if missing:
        tokenizer.add_tokens([
            AddedToken(t, normalized=False, special=False, single_word=False,
                       lstrip=False, rstrip=False) for t in missing
        ])
    ids = tokenizer.convert_tokens_to_ids(tokens)
    unk = tokenizer.unk_token_id
    bad = [t for t, i in zip(tokens, ids) if i is None or
           (unk is not None and i == unk)]
    if bad:
        raise RuntimeError(f'tokenizer could not add the tokens {bad[:5]}...')
    return list(ids)


class DeltaEmbedding(nn.Embedding):
    """``nn.Embedding`` (same ``weight``) plus trainable rows for some ids.

    Args:
        base (nn.Embedding): The embedding to extend; its weight is shared.
        token_ids (Sequence[int]): Ids whose rows get a trainable delta.
    """

    def __init__(self, base: nn.Embedding, token_ids: Sequence[int]) -> None:
        super().__init__(
            base.num_embeddings, base.embedding_dim,
            padding_idx=base.padding_idx, _weight=base.weight,
            _freeze=not base.weight.requires_grad)
        self.weight = base.weight  # the same Parameter object
        row = torch.full((base.num_embeddings, ), -1, dtype=torch.long)
        row[torch.as_tensor(list(token_ids))] = torch.arange(len(token_ids))
        # derived from the tokenizer: not part of the checkpoint
        self.register_buffer('delta_row', row, persistent=False)
        self.special_delta = nn.Parameter(
            base.weight.new_zeros(len(token_ids), base.embedding_dim))

    def forward(self, input_ids: Tensor) -> Tensor:
        out = super().forward(input_ids)
        row = self.delta_row[input_ids]
        hit = row >= 0
        # only the new tokens' positions are touched; with no hit the delta
        # still joins the graph (zero grad), so DDP sees it used every step
        return out.index_put((hit, ), out[hit] +
                             self.special_delta[row[hit]].to(out.dtype))


class DeltaLinear(nn.Linear):
    """``lm_head`` (same ``weight``) plus trainable output rows for some ids.

    Args:
        base (nn.Linear): The output projection; its parameters are shared.
        token_ids (Sequence[int]): Output ids whose rows get a delta.
    """

    def __init__(self, base: nn.Linear, token_ids: Sequence[int]) -> None:
        nn.Module.__init__(self)
        self.in_features = base.in_features
        self.out_features = base.out_features
        self.weight = base.weight
        self.bias = base.bias
        self.register_buffer(
            'delta_ids', torch.as_tensor(list(token_ids), dtype=torch.long),
            persistent=False)
        self.special_delta = nn.Parameter(
            base.weight.new_zeros(len(token_ids), base.in_features))

    def forward(self, x: Tensor) -> Tensor:
        logits = super().forward(x)
        extra = F.linear(x, self.special_delta.to(x.dtype))
        return logits.index_add(-1, self.delta_ids, extra.to(logits.dtype))


def install_token_deltas(llava: nn.Module, token_ids: Sequence[int]) -> None:
    """Give ``llava``'s input embedding and ``lm_head`` trainable rows for
    ``token_ids`` (see the module docstring), in place."""
    emb = llava.get_input_embeddings()
    head = llava.get_output_embeddings()
    if not isinstance(emb, DeltaEmbedding):
        llava.set_input_embeddings(DeltaEmbedding(emb, token_ids))
    if head is not None and not isinstance(head, DeltaLinear):
        llava.set_output_embeddings(DeltaLinear(head, token_ids))


def setup_detseg_tokens(llava: nn.Module, tokenizer,
                        num_bins: int = NUM_BINS) -> List[int]:
    """Add the tokens, resize the embeddings and install the deltas.

    New rows start at the mean of the old ones (transformers'
    ``mean_resizing``), so the first steps do not see outlier logits.

    Returns:
        list[int]: The ids of the format's tokens.
    """
    ids = add_detseg_tokens(tokenizer, num_bins)
    if llava.get_input_embeddings().num_embeddings < len(tokenizer):
        llava.resize_token_embeddings(len(tokenizer), mean_resizing=True)
    install_token_deltas(llava, ids)
    return ids
