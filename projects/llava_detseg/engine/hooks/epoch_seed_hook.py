"""Per-epoch seeding, so a resumed run repeats the uninterrupted one."""
from mmengine.hooks import Hook
from mmengine.runner.utils import set_random_seed

from llava_detseg.registry import HOOKS


@HOOKS.register_module()
class EpochSeedHook(Hook):
    """Seed every RNG from ``(seed, epoch)`` when an epoch starts.

    MMEngine seeds once at start and again, with the same seed, on resume,
    so after ``--resume`` the random augmentations and dropout of epoch
    ``k`` would repeat those of epoch 0. Seeding from the epoch makes epoch
    ``k`` identical whether or not the run was interrupted. Data-loader
    workers take their seeds from the main process's torch RNG when they
    start (use ``epoch_worker_init_fn`` and ``persistent_workers=False``).

    Args:
        stride (int): Distance between the seeds of consecutive epochs.
    """

    priority = 'VERY_HIGH'

    def __init__(self, stride: int = 1000003) -> None:
        self.stride = stride

    def before_train_epoch(self, runner) -> None:
        cfg = runner._randomness_cfg
        set_random_seed(
            runner.seed + self.stride * runner.epoch,
            deterministic=cfg.get('deterministic', False),
            diff_rank_seed=cfg.get('diff_rank_seed', False))
