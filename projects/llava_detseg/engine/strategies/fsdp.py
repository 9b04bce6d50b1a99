"""MMEngine's FSDP strategy, fixed for this torch and usable on CPUs."""
import torch
from mmengine._strategy import FSDPStrategy
from torch import nn
from torch.distributed.fsdp import (FullOptimStateDictConfig,
                                    FullStateDictConfig)
from torch.distributed.fsdp import FullyShardedDataParallel as FSDP

from llava_detseg.registry import STRATEGIES


@STRATEGIES.register_module()
class CompatFSDPStrategy(FSDPStrategy):
    """``FSDPStrategy`` of mmengine 0.10.7, repaired where it breaks here.

    Why a subclass (each point was hit by the 2-process CPU run of the tiny
    twin's FSDP config):

    * ``--resume`` fails in every setting: mmengine calls
      ``FSDP.optim_state_dict_to_load(state_dict, model, optim)``, torch 1.x's
      argument order; torch 2 takes ``(model, optim, optim_state_dict)`` and
      stops with ``unhashable type: 'dict'``.
    * Without a GPU, mmengine wraps with ``device_id=LOCAL_RANK`` (a CUDA
      index); here the device is the CPU (gloo), unless the config's
      ``model_wrapper.device_id`` says otherwise.
    * On a CPU, the ``state_dict_cfg='full'`` preset (``rank0_only`` +
      ``offload_to_cpu``) frees the gathered tensors before rank 0 copies
      them, a segmentation fault at the first save; there every rank
      gathers the full state (no offload: it is in host memory already)
      and rank 0 writes it. ``'local'`` shards pickle ``ShardedTensor``
      objects, which the project's weights-only loading refuses, so
      ``'full'`` is the setting to use; it writes a checkpoint in DDP's
      layout that ``tools/test.py`` and the inferencer load.

    On GPUs the behaviour is mmengine's apart from the first point.
    """

    def _init_state_dict_cfg(self, state_dict_cfg) -> None:
        super()._init_state_dict_cfg(state_dict_cfg)
        if state_dict_cfg == 'full' and not torch.cuda.is_available():
            self.state_dict_config = FullStateDictConfig(
                rank0_only=False, offload_to_cpu=False)
            self.optim_state_dict_config = FullOptimStateDictConfig(
                rank0_only=False, offload_to_cpu=False)

    def _wrap_model(self, model: nn.Module) -> nn.Module:
        if not torch.cuda.is_available():
            wrapper = dict(self.model_wrapper or
                           dict(type='MMFullyShardedDataParallel'))
            wrapper.setdefault('device_id', 'cpu')
            self.model_wrapper = wrapper
        return super()._wrap_model(model)

    def load_optim_state_dict(self, state_dict: dict) -> None:
        """Load a (full or local) optimizer state saved by this strategy."""
        optim_state_dict = FSDP.optim_state_dict_to_load(
            self.model, self.optim_wrapper.optimizer, state_dict)
        self.optim_wrapper.load_state_dict(optim_state_dict)
