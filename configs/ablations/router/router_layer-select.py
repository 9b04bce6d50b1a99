# Adaptive layer selection for the language branch (hard: answer loss of the
# top-2 candidate layers, the best one is the classifier's target).
_base_ = '../../llava-detseg_clip-tiny_llama-tiny_router-moe_1xb16-7e_shapes.py'

model = dict(
    router=dict(
        layer_selector=dict(
            _delete_=True,
            type='AdaptiveLayerSelector',
            hidden_dims=64,
            top_k=2,
            mode='hard',
            loss_weight=0.1)))
