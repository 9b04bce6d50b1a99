"""Gradient (activation) checkpointing of transformers models."""
from torch import nn


def enable_checkpointing(model: nn.Module) -> None:
    """Turn on transformers' own, non-reentrant layer checkpointing.

    transformers 5 renamed ``gradient_checkpointing_enable`` to
    ``activation_checkpointing_enable`` (the old name warns); either is used.
    Non-reentrant checkpointing lets gradients reach trainable parts (the
    projector, LoRA weights) through frozen layers without marking the
    inputs as requiring gradients.
    """
    kwargs = dict(use_reentrant=False)
    if hasattr(model, 'activation_checkpointing_enable'):
        model.activation_checkpointing_enable(
            activation_checkpointing_kwargs=kwargs)
    else:
        model.gradient_checkpointing_enable(
            gradient_checkpointing_kwargs=kwargs)


def is_checkpointing(model: nn.Module) -> bool:
    """Whether :func:`enable_checkpointing` is on for ``model``."""
    flag = getattr(type(model), 'is_activation_checkpointing', None)
    if flag is not None:
        return bool(model.is_activation_checkpointing)
    return bool(model.is_gradient_checkpointing)
