# No router: every level and the projector read the equal mix of the tapped
# layers; no experts, no auxiliary losses.
_base_ = '../../llava-detseg_clip-tiny_llama-tiny_router-moe_1xb16-7e_shapes.py'

model = dict(
    router=dict(layer_gate='fixed', shared_expert=False, task_experts=False,
                num_experts=0),
    language=dict(projector=dict(type='mlp2x_gelu', _delete_=True)))
