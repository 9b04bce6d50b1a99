# Layer set: the last ViT layer only.
_base_ = '../../llava-detseg_clip-tiny_llama-tiny_router-moe_1xb16-7e_shapes.py'

model = dict(router=dict(in_layers=(4, )))
