# Adaptive layer selection with soft mixing of the candidate layers.
_base_ = '../../llava-detseg_clip-tiny_llama-tiny_router-moe_1xb16-7e_shapes.py'

model = dict(
    router=dict(
        layer_selector=dict(
            _delete_=True,
            type='AdaptiveLayerSelector',
            hidden_dims=64,
            top_k=2,
            mode='soft',
            loss_weight=0.1)))
