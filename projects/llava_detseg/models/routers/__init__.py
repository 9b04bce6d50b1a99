from .gated_feature_router import GatedFeatureRouter, build_router
from .instructions import (DEFAULT_INSTRUCTIONS, embed_instructions,
                           instruction_texts)
from .layer_selector import AdaptiveLayerSelector
from .moe import (AuxOutputs, ExpertMLP, GateOutput, NoisyTopKGate,
                  combine_experts, gate_losses)
from .router_stats import RouterStats

__all__ = [
    'DEFAULT_INSTRUCTIONS', 'GatedFeatureRouter', 'RouterStats', 'build_router',
    'AdaptiveLayerSelector', 'ExpertMLP', 'GateOutput', 'NoisyTopKGate',
    'combine_experts', 'embed_instructions', 'instruction_texts',
    'AuxOutputs', 'gate_losses'
]
