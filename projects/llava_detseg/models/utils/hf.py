"""Loading Hugging Face models inside MMEngine modules."""
import os.path as osp
from typing import Optional, Type

import torch
from torch import nn


def _dtype(name: Optional[str]) -> Optional[torch.dtype]:
    if name is None or isinstance(name, torch.dtype):
        return name
    if not hasattr(torch, name):
        raise ValueError(f'unknown torch_dtype "{name}"')
    return getattr(torch, name)


def load_hf_model(cls: Type[nn.Module],
                  pretrained: str,
                  torch_dtype: Optional[str] = None) -> nn.Module:
    """``cls.from_pretrained(pretrained)`` with a clear error and no re-init.

    Args:
        cls: a transformers model class.
        pretrained (str): Hub id or local folder.
        torch_dtype (str, optional): e.g. ``'bfloat16'``.

    Returns:
        nn.Module: the model, marked ``is_init`` so MMEngine's
        ``init_weights`` does not overwrite the loaded weights.
    """
    # A hub id is "name" or "org/name"; anything else is meant as a folder.
    looks_local = pretrained.startswith(('.', '/', '~')) or \
        pretrained.count('/') > 1
    if looks_local and not osp.isdir(osp.expanduser(pretrained)):
        raise FileNotFoundError(
            f'{cls.__name__}: pretrained folder "{pretrained}" does not exist '
            '(the embedded default writes it with '
            'tools/model_converters/make_tiny_llava.py)')
    kwargs = {}
    if torch_dtype is not None:
        kwargs['dtype'] = _dtype(torch_dtype)
    try:
        model = cls.from_pretrained(osp.expanduser(pretrained), **kwargs)
    except OSError as e:
        raise OSError(f'{cls.__name__}: cannot load "{pretrained}": {e}') \
            from None
    # MMEngine's BaseModule.init_weights calls ``init_weights`` on children
    # that have it; transformers models do, and must keep what they loaded.
    model.is_init = True
    return model
