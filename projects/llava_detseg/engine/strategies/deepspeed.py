"""MMEngine's DeepSpeed optimizer wrapper, usable on CPU processes."""
import torch
from mmengine._strategy.deepspeed import DeepSpeedOptimWrapper

from llava_detseg.registry import OPTIM_WRAPPERS


@OPTIM_WRAPPERS.register_module()
class CompatDeepSpeedOptimWrapper(DeepSpeedOptimWrapper):
    """``DeepSpeedOptimWrapper`` whose step runs without autograd.

    Why a subclass: ZeRO-1/2's step all-gathers the updated partitions into
    the flat half-precision buffer. On gloo (CPU processes) torch emulates
    ``all_gather_into_tensor`` by writing into ``split`` views of that
    buffer, which autograd refuses while grad mode is on ("Output 0 of
    Split is a view and is being modified inplace"); NCCL's native
    collective never splits. The step needs no graph either way.
    """

    def step(self, **kwargs) -> None:
        with torch.no_grad():
            self.model.step()
