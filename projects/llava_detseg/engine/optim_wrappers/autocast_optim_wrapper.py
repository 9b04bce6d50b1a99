"""bf16 mixed precision without a loss scaler, on any device."""
from contextlib import contextmanager

import torch
from mmengine.optim import OptimWrapper
from torch import nn

from llava_detseg.registry import OPTIM_WRAPPERS


@OPTIM_WRAPPERS.register_module()
class AutocastOptimWrapper(OptimWrapper):
    """An ``OptimWrapper`` whose ``optim_context`` runs under bf16 autocast.

    Why not mmengine's ``AmpOptimWrapper``: it asserts a GPU / NPU / MLU in
    its constructor because it always builds a CUDA ``GradScaler``. bf16
    keeps fp32's exponent range, so its gradients need no loss scaling and
    autocast alone is the whole of bf16 AMP; that runs on a CPU too
    (oneDNN's bf16 / AMX kernels), which is what ``tools/train.py --amp``
    selects there and what the full-width CPU twin trains with. Weights,
    gradients and optimizer state stay fp32, as under ``AmpOptimWrapper``.

    Args:
        dtype (str): Only ``'bfloat16'``; fp16 would need a loss scaler
            (use ``AmpOptimWrapper`` on a GPU for it).
        **kwargs: As ``OptimWrapper`` (optimizer, clip_grad, accumulative
            counts).
    """

    def __init__(self, dtype: str = 'bfloat16', **kwargs) -> None:
        if dtype != 'bfloat16':
            raise ValueError(
                f'AutocastOptimWrapper: optim_wrapper.dtype must be '
                f'"bfloat16", got {dtype!r}; fp16 needs a loss scaler '
                '(type="AmpOptimWrapper", on a GPU)')
        super().__init__(**kwargs)
        self.cast_dtype = torch.bfloat16

    @contextmanager
    def optim_context(self, model: nn.Module):
        """Gradient-accumulation context (``no_sync``) and bf16 autocast on
        the device the model's parameters live on."""
        from mmengine.runner.amp import autocast
        device = next(model.parameters()).device.type
        with super().optim_context(model), autocast(
                device_type=device, dtype=self.cast_dtype):
            yield
