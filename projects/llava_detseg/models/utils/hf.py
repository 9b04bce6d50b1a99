"""Loading Hugging Face models and tokenizers inside MMEngine modules."""
import json
import os.path as osp
from typing import Optional, Type

import torch
from torch import nn

from llava_detseg.utils.meta import is_meta_build

#: Architecture configs of hub checkpoints, for :func:`meta_build` builds.
HF_CONFIG_DIR = osp.join(osp.dirname(osp.abspath(__file__)), 'hf_configs')


def _dtype(name: Optional[str]) -> Optional[torch.dtype]:
    if name is None or isinstance(name, torch.dtype):
        return name
    if not hasattr(torch, name):
        raise ValueError(f'unknown torch_dtype "{name}"')
    return getattr(torch, name)


def _looks_local(pretrained: str) -> bool:
    # A hub id is "name" or "org/name"; anything else is meant as a folder.
    return pretrained.startswith(('.', '/', '~')) or pretrained.count('/') > 1


def bundled_config_path(hub_id: str) -> str:
    """Where the bundled architecture config of ``hub_id`` lives."""
    return osp.join(HF_CONFIG_DIR, hub_id.replace('/', '--') + '.json')


def load_hf_config(cls: Type[nn.Module], pretrained: str):
    """The architecture config of ``pretrained`` for model class ``cls``.

    Local folders use their ``config.json``; hub ids use the copy bundled in
    ``hf_configs/`` (no network). A composite config (e.g. a full
    ``CLIPConfig`` for a ``CLIPVisionModel``) is narrowed the way
    ``from_pretrained`` narrows it.
    """
    config_cls = cls.config_class
    if osp.isdir(osp.expanduser(pretrained)):
        return config_cls.from_pretrained(osp.expanduser(pretrained))
    path = bundled_config_path(pretrained)
    if not osp.isfile(path):
        raise FileNotFoundError(
            f'{cls.__name__}: no architecture config bundled for '
            f'"{pretrained}" (looked for {path}); meta-device builds know '
            'only the hub ids in that folder or local checkpoint folders')
    with open(path) as f:
        data = json.load(f)
    data.pop('_comment', None)
    wanted = getattr(config_cls, 'model_type', None)
    if data.get('model_type') != wanted:
        for key in ('vision_config', 'text_config'):
            sub = data.get(key)
            if isinstance(sub, dict) and sub.get('model_type') == wanted:
                data = sub
                break
    return config_cls.from_dict(data)


def load_hf_model(cls: Type[nn.Module],
                  pretrained: str,
                  torch_dtype: Optional[str] = None,
                  **kwargs) -> nn.Module:
    """``cls.from_pretrained(pretrained)`` with a clear error and no re-init.

    Inside :func:`llava_detseg.utils.meta_build` the model is created from
    its architecture config on the ``meta`` device instead, without weights.

    Args:
        cls: a transformers model class.
        pretrained (str): Hub id or local folder.
        torch_dtype (str, optional): e.g. ``'bfloat16'``.
        **kwargs: More ``from_pretrained`` arguments (e.g.
            ``quantization_config``). ``trust_remote_code`` is False
            unless given: a checkpoint folder's own Python never runs.

    Returns:
        nn.Module: the model, marked ``is_init`` so MMEngine's
        ``init_weights`` does not overwrite the loaded weights.
    """
    if is_meta_build():
        config = load_hf_config(cls, pretrained)
        kwargs = {}
        if torch_dtype is not None:
            kwargs['dtype'] = _dtype(torch_dtype)
        with torch.device('meta'):
            model = cls._from_config(config, **kwargs)
        model.is_init = True
        return model
    if _looks_local(pretrained) and \
            not osp.isdir(osp.expanduser(pretrained)):
        raise FileNotFoundError(
            f'{cls.__name__}: pretrained folder "{pretrained}" does not exist '
            '(the embedded default writes it with '
            'tools/model_converters/make_tiny_llava.py)')
    if torch_dtype is not None:
        kwargs['dtype'] = _dtype(torch_dtype)
    kwargs.setdefault('trust_remote_code', False)
    try:
        model = cls.from_pretrained(osp.expanduser(pretrained), **kwargs)
    except OSError as e:
        raise OSError(f'{cls.__name__}: cannot load "{pretrained}": {e}') \
            from None
    # MMEngine's BaseModule.init_weights calls ``init_weights`` on children
    # that have it; transformers models do, and must keep what they loaded.
    model.is_init = True
    return model


def _sentencepiece_only_class(folder: str):
    """The tokenizer class a folder with only ``tokenizer.model`` names.

    transformers 5 maps model type ``llava`` to its generic
    ``TokenizersBackend``, which converts a bare SentencePiece model without
    LLaMA's normalizer: the ``▁`` dummy prefix of the first word is lost and
    every prompt tokenizes unlike Vicuna's. A folder with ``tokenizer.json``
    (as llava-hf ships) loads right either way; one with only
    ``tokenizer.model`` (as liuhaotian's and converted checkpoints do) is
    loaded by the class its ``tokenizer_config.json`` names.
    """
    import transformers
    config = osp.join(folder, 'tokenizer_config.json')
    if not osp.isfile(osp.join(folder, 'tokenizer.model')) or \
            osp.isfile(osp.join(folder, 'tokenizer.json')) or \
            not osp.isfile(config):
        return None
    with open(config) as f:
        name = json.load(f).get('tokenizer_class') or ''
    return getattr(transformers, name, None) if name.startswith(
        ('Llama', 'CodeLlama')) else None


def load_hf_tokenizer(pretrained: str, trust_remote_code: bool = False):
    """``AutoTokenizer.from_pretrained`` with a clear error.

    ``trust_remote_code`` stays False unless asked for: a tokenizer folder
    whose ``auto_map`` names its own Python class is refused, not run.

    Inside :func:`llava_detseg.utils.meta_build` a hub id that is not on
    disk gets the project's small offline tokenizer instead: a meta build
    needs the model's shapes, not its vocabulary.
    """
    from transformers import AutoTokenizer
    local = osp.isdir(osp.expanduser(pretrained))
    if is_meta_build() and not local:
        from llava_detseg.models.language.tiny_checkpoint import \
            build_tiny_tokenizer
        return build_tiny_tokenizer()
    if _looks_local(pretrained) and not local:
        raise FileNotFoundError(
            f'tokenizer folder "{pretrained}" does not exist')
    try:
        named = _sentencepiece_only_class(osp.expanduser(pretrained))
        if named is not None:
            return named.from_pretrained(osp.expanduser(pretrained))
        return AutoTokenizer.from_pretrained(
            osp.expanduser(pretrained), trust_remote_code=trust_remote_code)
    except ValueError as e:
        if 'trust_remote_code' not in str(e):
            raise
        raise ValueError(
            f'tokenizer folder "{pretrained}" asks to run its own code '
            '(auto_map in tokenizer_config.json), and trust_remote_code is '
            'off') from None
    except OSError as e:
        raise OSError(f'cannot load the tokenizer of "{pretrained}": {e}') \
            from None
