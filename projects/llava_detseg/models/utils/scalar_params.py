"""0-dim parameters as 1-element vectors, so that FSDP can shard the model.

PyTorch's FSDP flattens parameters and refuses 0-dim ones ("FSDP doesn't
support scalar parameters"); the only ones here are mmdet's FCOS ``Scale``
factors (``det_head.scales.<i>.scale``), which broadcast the same as a
1-element vector. Checkpoints written before, and mmdet's own FCOS weights,
hold them as 0-dim tensors: a load-state-dict pre-hook reshapes those.
"""
from typing import List

from torch import nn


def vectorize_scalar_params(model: nn.Module) -> List[str]:
    """Replace every 0-dim parameter of ``model`` by a (1,) one in place and
    register the load hook; returns their names."""
    names = []
    for name, module in model.named_modules():
        # module._parameters: this module's own, without recursion
        for pname, param in list(module._parameters.items()):
            if param is not None and param.dim() == 0:
                setattr(module, pname, nn.Parameter(
                    param.data.reshape(1), requires_grad=param.requires_grad))
                names.append(f'{name}.{pname}' if name else pname)
    if names:
        model._register_load_state_dict_pre_hook(
            _ScalarLoadHook(frozenset(names)))
    return names


class _ScalarLoadHook:
    """Reshape a checkpoint's 0-dim entries of the vectorised parameters."""

    def __init__(self, names: frozenset) -> None:
        self.names = names

    def __call__(self, state_dict, prefix, *args) -> None:
        for name in self.names:
            key = prefix + name
            value = state_dict.get(key)
            if value is not None and value.dim() == 0:
                state_dict[key] = value.reshape(1)
