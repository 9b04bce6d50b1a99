# LLaVA's mlp2x_gelu projector instead of the MoE projector.
_base_ = '../../llava-detseg_clip-tiny_llama-tiny_router-moe_1xb16-7e_shapes.py'

model = dict(language=dict(projector=dict(type='mlp2x_gelu', _delete_=True)))
