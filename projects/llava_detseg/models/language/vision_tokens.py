"""The image tokens the language model reads, and their padding: which ViT
layers feed the projector, the token grid's pooling, the labels of the
image's rows, and the batch's right- or left-padded embedding
sequences."""
from typing import List, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from torch import Tensor

from .conversation import IGNORE_INDEX, IMAGE_PLACEHOLDER


def check_feature_layers(layers: Union[int, Sequence[int]],
                         projector: Optional[dict]
                         ) -> Union[int, Tuple[int, ...]]:
    """``language.vision_feature_layer`` as an int or a tuple of ints; a
    tuple of several needs a new projector (the checkpoint's takes one
    layer's width)."""
    if isinstance(layers, int):
        return layers
    layers = tuple(layers)
    if not layers or not all(isinstance(i, int) for i in layers):
        raise ValueError('language.vision_feature_layer must be an int or a '
                         f'non-empty list of ints, got {layers!r}')
    if len(layers) > 1 and projector is None:
        # (a pretrained projector of another width is refused by
        # build_projector, which names load_pretrained)
        raise ValueError(
            f'language.vision_feature_layer={list(layers)} concatenates '
            f'{len(layers)} layers, which the checkpoint\'s projector cannot '
            'take: set language.projector=dict(type=\'mlp2x_gelu\', '
            'load_pretrained=False)')
    return layers if len(layers) > 1 else layers[0]


def select_feature_layers(hidden_states: Sequence[Tensor],
                          layers: Union[int, Tuple[int, ...]]) -> Tensor:
    """The hidden state ``layers`` names, or several concatenated along the
    channels: (B, N, C * len(layers))."""
    if isinstance(layers, int):
        return hidden_states[layers]
    return torch.cat([hidden_states[i] for i in layers], dim=-1)


def pool_token_grid(feats: Tensor, k: int, keep_cls: bool) -> Tensor:
    """Average-pool (B, [1 +] H*W, C) patch tokens on their square grid by
    ``k`` (a kept CLS token passes through)."""
    cls, patches = (feats[:, :1], feats[:, 1:]) if keep_cls else (None, feats)
    b, n, c = patches.shape
    side = int(round(n**0.5))
    if side * side != n or side % k:
        raise ValueError(
            f'language.image_token_pool={k} needs a square token grid '
            f'whose side it divides; the ViT gave {n} patch tokens')
    grid = patches.transpose(1, 2).reshape(b, c, side, side)
    pooled = F.avg_pool2d(grid, k).flatten(2).transpose(1, 2)
    return pooled if cls is None else torch.cat([cls, pooled], 1)


def pad_sequences(seqs: List[Tensor], left: bool) -> tuple:
    """Pad (L_i, D) sequences to (B, L, D) and return the attention mask."""
    length = max(s.shape[0] for s in seqs)
    out = seqs[0].new_zeros(len(seqs), length, seqs[0].shape[1])
    mask = torch.zeros(len(seqs), length, dtype=torch.long,
                       device=seqs[0].device)
    for row, s in enumerate(seqs):
        sl = slice(length - s.shape[0], length) if left else slice(
            0, s.shape[0])
        out[row, sl] = s
        mask[row, sl] = 1
    return out, mask


def splice_image_labels(ids: List[int], labels: List[int],
                        num_image: int) -> List[int]:
    """``labels`` with the image placeholder's one ignored label widened to
    the ``num_image`` rows its tokens take."""
    if IMAGE_PLACEHOLDER not in ids:
        return labels
    pos = ids.index(IMAGE_PLACEHOLDER)
    return labels[:pos] + [IGNORE_INDEX] * num_image + labels[pos + 1:]
