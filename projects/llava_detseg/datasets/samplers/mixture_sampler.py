"""Sampling a multi-task mixture with ratios from the config."""
import math
from typing import Dict, Iterator, List, Optional, Sequence, Union

import torch
from mmengine.dist import get_dist_info, sync_random_seed
from torch.utils.data import Sampler

from llava_detseg.registry import DATA_SAMPLERS


@DATA_SAMPLERS.register_module()
class MixtureSampler(Sampler):
    """Draw an epoch from the parts of a ``ConcatDataset`` in given ratios.

    Each epoch holds ``num_samples`` draws (default: the concatenation's
    length); part ``i`` gets the share ``ratios[i] / sum(ratios)``. Within a
    part, samples follow random permutations of the part (a small part is
    repeated, each sample once per pass; a large one is subsampled, a new
    subset each epoch). The order depends only on ``(seed, epoch)``, so
    every rank computes the same epoch and takes its own slice, and a
    resumed run repeats the original (``DistSamplerSeedHook`` calls
    ``set_epoch``).

    With ``batch_size`` (the per-GPU batch size of the data loader) every
    training step takes its batches, on all ranks, from one part: the epoch
    is cut per part into steps of ``batch_size x world_size`` draws, the
    steps are shuffled, and each rank takes its slice of each. Parts can
    then have their own image sizes (a VQA batch at LLaVA's resolution, a
    detection batch at the detector's) without padding one to the other;
    every rank gets the same number of batches; and all ranks run the same
    branches at each step. The last is required under DDP: mmdet's dense
    heads average their positive counts over the ranks with an
    ``all_reduce`` inside the loss (``reduce_mean``), so a rank that skips
    the detection head while another runs it leaves the collectives
    mismatched and the job hangs or aborts. ``batch_size=None`` mixes the
    parts within batches; use it on one GPU, or where every part serves the
    same tasks.

    Args:
        dataset (ConcatDataset): With ``cumulative_sizes`` (mmengine's
            ``ConcatDataset`` or ``MultiTaskConcatDataset``).
        ratios (dict[str, float] | Sequence[float], optional): Weight of
            each part, by source name (``MultiTaskConcatDataset``; names of
            sources its ``tasks`` left out are allowed and ignored) or in
            order; ``None``: proportional to the sizes.
        num_samples (int, optional): Draws per epoch over all ranks.
        batch_size (int, optional): Keep each batch within one part; must
            equal the data loader's ``batch_size``.
        shuffle (bool): Shuffle (``False``: parts in order, for checks).
        seed (int, optional): Random seed; synchronised across ranks when
            ``None``.
    """

    def __init__(self,
                 dataset,
                 ratios: Union[Dict[str, float], Sequence[float],
                               None] = None,
                 num_samples: Optional[int] = None,
                 batch_size: Optional[int] = None,
                 shuffle: bool = True,
                 seed: Optional[int] = None) -> None:
        sizes = getattr(dataset, 'cumulative_sizes', None)
        if sizes is None:
            raise TypeError(
                'MixtureSampler: the dataset must be a ConcatDataset (e.g. '
                f'MultiTaskConcatDataset), got {type(dataset).__name__}')
        self.dataset = dataset
        self.offsets = [0] + list(sizes[:-1])
        self.sizes = [b - a for a, b in zip(self.offsets, sizes)]
        if ratios is None:
            ratios = self.sizes
        elif isinstance(ratios, dict):
            ratios = _ratios_by_name(dataset, ratios)
        ratios = [float(r) for r in ratios]
        if len(ratios) != len(self.sizes):
            raise ValueError(
                f'MixtureSampler: ratios has {len(ratios)} entries but the '
                f'dataset has {len(self.sizes)} parts')
        if any(r < 0 or not math.isfinite(r) for r in ratios) or \
                sum(ratios) <= 0:
            raise ValueError(f'MixtureSampler: ratios must be non-negative '
                             f'with a positive sum, got {ratios}')
        empty = [i for i, (r, n) in enumerate(zip(ratios, self.sizes))
                 if r > 0 and n == 0]
        if empty:
            raise ValueError(f'MixtureSampler: parts {empty} are empty but '
                             'have a positive ratio')
        if batch_size is not None and batch_size < 1:
            raise ValueError(f'MixtureSampler: batch_size must be >= 1, got '
                             f'{batch_size}')
        self.ratios = ratios
        self.rank, self.world_size = get_dist_info()
        self.total = int(num_samples or sum(self.sizes))
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.seed = sync_random_seed() if seed is None else seed
        self.epoch = 0
        self.counts = self._counts()

    def _counts(self) -> List[int]:
        """Draws per part: largest-remainder shares, in whole batches."""
        unit = (self.batch_size or 1) * (
            self.world_size if self.batch_size else 1)
        units = max(1, self.total // unit)
        total_r = sum(self.ratios)
        shares = [units * r / total_r for r in self.ratios]
        counts = [int(s) for s in shares]
        order = sorted(range(len(shares)),
                       key=lambda i: counts[i] - shares[i])
        for i in order[:units - sum(counts)]:
            counts[i] += 1
        return [c * unit for c in counts]

    def _part(self, i: int, n: int, g: torch.Generator) -> List[int]:
        out: List[int] = []
        while len(out) < n:
            perm = torch.randperm(self.sizes[i], generator=g) if \
                self.shuffle else torch.arange(self.sizes[i])
            out += (perm[:n - len(out)] + self.offsets[i]).tolist()
        return out

    def _epoch_indices(self) -> List[int]:
        g = torch.Generator()
        g.manual_seed(self.seed + self.epoch)
        parts = [self._part(i, n, g) for i, n in enumerate(self.counts)]
        if self.batch_size is None:
            flat = [j for p in parts for j in p]
            if self.shuffle:
                flat = [flat[k] for k in torch.randperm(len(flat),
                                                        generator=g)]
            # pad so every rank gets the same number, as DefaultSampler does
            pad = -len(flat) % self.world_size
            flat += flat[:pad]
            return flat[self.rank::self.world_size]
        # one step = one batch per rank, all from the same part
        b = self.batch_size
        size = b * self.world_size
        steps = [p[k:k + size] for p in parts
                 for k in range(0, len(p), size)]
        if self.shuffle:
            steps = [steps[k] for k in torch.randperm(len(steps),
                                                      generator=g)]
        return [j for step in steps
                for j in step[self.rank * b:(self.rank + 1) * b]]

    def __iter__(self) -> Iterator[int]:
        return iter(self._epoch_indices())

    def __len__(self) -> int:
        if self.batch_size is None:
            return math.ceil(sum(self.counts) / self.world_size)
        return sum(self.counts) // self.world_size

    def set_epoch(self, epoch: int) -> None:
        """Make the next epoch's draws depend on ``epoch``."""
        self.epoch = epoch


def _ratios_by_name(dataset, ratios: Dict[str, float]) -> List[float]:
    names = getattr(dataset, 'names', None)
    if names is None:
        raise TypeError('MixtureSampler: ratios by name need a '
                        'MultiTaskConcatDataset with named sources, got '
                        f'{type(dataset).__name__}')
    known = set(names) | set(getattr(dataset, 'dropped', ()))
    unknown = sorted(set(ratios) - known)
    if unknown:
        raise ValueError(f'MixtureSampler: ratios name unknown sources '
                         f'{unknown}; the sources are {sorted(known)}')
    missing = [n for n in names if n not in ratios]
    if missing:
        raise ValueError(f'MixtureSampler: no ratio for the sources '
                         f'{missing}')
    return [ratios[n] for n in names]
