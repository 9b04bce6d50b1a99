from .deepspeed import CompatDeepSpeedOptimWrapper
from .fsdp import CompatFSDPStrategy

__all__ = ['CompatDeepSpeedOptimWrapper', 'CompatFSDPStrategy']
