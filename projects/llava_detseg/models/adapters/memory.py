"""Memory options for GPU users: gradient checkpointing and a 4/8-bit LM."""
import importlib.util
from typing import Optional

import torch
from torch import nn


def check_quantization(mode: Optional[str], where: str = 'quantization'):
    """A ``transformers.BitsAndBytesConfig`` for ``'4bit'`` / ``'8bit'``.

    4-bit is QLoRA's setting (NF4, double quantisation, bf16 compute). The
    checks run before any weight is read, so a run that cannot quantise stops
    at start with a message instead of deep inside ``from_pretrained``.

    Args:
        mode (str, optional): ``None`` (no quantisation), ``'4bit'`` or
            ``'8bit'``.
        where (str): Config key named in the errors.
    """
    from llava_detseg.utils.meta import is_meta_build
    if mode is None or is_meta_build():
        # a meta build counts parameters: their number does not change
        return None
    if mode not in ('4bit', '8bit'):
        raise ValueError(f'{where}: must be None, "4bit" or "8bit", got '
                         f'"{mode}"')
    if not torch.cuda.is_available():
        raise RuntimeError(
            f'{where}="{mode}" needs a CUDA GPU (bitsandbytes kernels); this '
            'machine has none. Set it to None (and use torch_dtype / '
            'adapters alone) to run here.')
    if importlib.util.find_spec('bitsandbytes') is None:
        raise RuntimeError(
            f'{where}="{mode}" needs the bitsandbytes package: '
            'pip install bitsandbytes')
    from transformers import BitsAndBytesConfig
    if mode == '8bit':
        return BitsAndBytesConfig(load_in_8bit=True)
    return BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type='nf4',
        bnb_4bit_use_double_quant=True,
        bnb_4bit_compute_dtype=torch.bfloat16)


def enable_gradient_checkpointing(model: nn.Module) -> int:
    """Turn on transformers' gradient checkpointing in every HF model inside.

    The non-reentrant variant is used: it works when the inputs of a
    checkpointed block do not require grad (frozen embeddings under LoRA).

    Returns:
        int: how many HF models were switched (0 is a configuration error).
    """
    from transformers import PreTrainedModel
    count = 0
    for module in model.modules():
        if isinstance(module, PreTrainedModel) and \
                module.supports_gradient_checkpointing:
            module.gradient_checkpointing_enable(
                gradient_checkpointing_kwargs=dict(use_reentrant=False))
            count += 1
    if not count:
        raise ValueError('gradient_checkpointing=True but the model holds no '
                         'transformers model that supports it')
    return count
