"""Build full-size models without weights or network, on the meta device.

Counting parameters of CLIP ViT-L/14-336 + a 7B language model, checking that
every config builds, or planning memory must not need 14 GB of downloads.
Inside :func:`meta_build`, ``load_hf_model`` creates each Hugging Face model
from its architecture config alone (a bundled copy for known hub ids, the
folder's ``config.json`` otherwise) with tensors on the ``meta`` device, and
every other module the config builds lands there too.
"""
import contextlib
from typing import Iterator

import torch

_ACTIVE = False


def is_meta_build() -> bool:
    """Whether a :func:`meta_build` context is active."""
    return _ACTIVE


@contextlib.contextmanager
def meta_build() -> Iterator[None]:
    """Build modules on the ``meta`` device from architecture configs only.

    Example:
        >>> with meta_build():
        ...     model = MODELS.build(cfg.model)
        >>> sum(p.numel() for p in model.parameters())
    """
    global _ACTIVE
    previous = _ACTIVE
    _ACTIVE = True
    try:
        with torch.device('meta'):
            yield
    finally:
        _ACTIVE = previous
