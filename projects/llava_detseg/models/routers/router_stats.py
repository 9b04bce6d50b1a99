"""Running sums of the router's decisions, for ``RouterStatsHook``."""
from collections import defaultdict
from typing import Dict, List, Optional, Union

from torch import Tensor


class RouterStats:
    """Running sums of routing decisions, read and reset by
    ``RouterStatsHook``. Everything is detached and on the CPU."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.sums: Dict[str, Tensor] = {}
        self.counts: Dict[str, float] = defaultdict(float)

    def add(self, key: str, value: Tensor,
            count: Union[float, Tensor]) -> None:
        if value.is_meta:  # a meta_build() shape check: nothing to count
            return
        count = float(count)
        value = value.detach().float().cpu()
        self.sums[key] = self.sums[key] + value if key in self.sums \
            else value.clone()
        self.counts[key] += count

    def mean(self, key: str) -> Optional[Tensor]:
        if key not in self.sums or not self.counts[key]:
            return None
        return self.sums[key] / self.counts[key]

    def keys(self) -> List[str]:
        return list(self.sums)
