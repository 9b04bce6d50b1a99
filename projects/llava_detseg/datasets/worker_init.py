"""Data-loader worker seeding that follows the main process's RNG."""
import random

import numpy as np
import torch

from llava_detseg.registry import FUNCTIONS


@FUNCTIONS.register_module()
def epoch_worker_init_fn(worker_id: int) -> None:
    """Seed numpy and ``random`` from the seed torch gave this worker.

    MMEngine's default gives a worker the same seed in every epoch. PyTorch
    derives each worker's seed from the main process's torch RNG at the start
    of the epoch, which ``EpochSeedHook`` sets from ``(seed, epoch)``: the
    augmentations then differ between epochs and repeat exactly on resume.
    """
    seed = torch.initial_seed() % 2**32
    np.random.seed(seed)
    random.seed(seed)
