from .epoch_seed_hook import EpochSeedHook
from .non_finite_guard_hook import NonFiniteGuardHook
from .router_stats_hook import RouterStatsHook
from .safe_checkpoint_hook import AtomicLocalBackend, SafeCheckpointHook
from .visualization_hook import MultiTaskVisualizationHook

__all__ = [
    'AtomicLocalBackend', 'EpochSeedHook', 'NonFiniteGuardHook',
    'RouterStatsHook', 'SafeCheckpointHook', 'MultiTaskVisualizationHook'
]
