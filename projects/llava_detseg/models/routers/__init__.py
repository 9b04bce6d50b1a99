from .gated_feature_router import (DEFAULT_INSTRUCTIONS, GatedFeatureRouter,
                                   RouterStats, build_router)
from .layer_selector import AdaptiveLayerSelector
from .moe import ExpertMLP, GateOutput, NoisyTopKGate, combine_experts

__all__ = [
    'DEFAULT_INSTRUCTIONS', 'GatedFeatureRouter', 'RouterStats', 'build_router',
    'AdaptiveLayerSelector', 'ExpertMLP', 'GateOutput', 'NoisyTopKGate',
    'combine_experts'
]
