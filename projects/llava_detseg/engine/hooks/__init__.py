from .epoch_seed_hook import EpochSeedHook
from .router_stats_hook import RouterStatsHook

__all__ = ['EpochSeedHook', 'RouterStatsHook']
