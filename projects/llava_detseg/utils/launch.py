"""Process-group set-up that also works on hosts without CUDA."""
import os

import torch
import torch.distributed as dist


def setup_launcher(cfg) -> None:
    """Start a ``gloo`` process group on a CPU-only host.

    MMEngine's ``init_dist('pytorch')`` calls ``torch.cuda.set_device``,
    which fails without CUDA. When the launcher is ``pytorch`` and CUDA is
    absent, the group is started here from torchrun's environment; the
    Runner then finds it initialised and skips ``init_dist``.

    Args:
        cfg (Config): The run's config; its ``env_cfg.dist_cfg.backend`` is
            set to ``gloo`` in that case.
    """
    if cfg.get('launcher', 'none') != 'pytorch' or torch.cuda.is_available():
        return
    cfg.env_cfg.setdefault('dist_cfg', {})['backend'] = 'gloo'
    if dist.is_initialized():
        return
    missing = [k for k in ('RANK', 'WORLD_SIZE', 'MASTER_ADDR', 'MASTER_PORT')
               if k not in os.environ]
    if missing:
        raise RuntimeError(
            f'--launcher pytorch needs {missing} in the environment: start '
            'the tool with tools/dist_train.sh or torchrun')
    dist.init_process_group(backend='gloo')
