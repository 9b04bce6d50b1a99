from .lora import (TaskAdapters, adapter_group, adapter_parameters,
                   adapters_disabled, merge_adapters)
from .memory import check_quantization, enable_gradient_checkpointing

__all__ = [
    'TaskAdapters', 'adapter_group', 'adapter_parameters',
    'adapters_disabled', 'merge_adapters', 'check_quantization',
    'enable_gradient_checkpointing'
]
