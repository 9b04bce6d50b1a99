# Layer set: every hidden state, the patch embeddings (0) included.
_base_ = '../../llava-detseg_clip-tiny_llama-tiny_router-moe_1xb16-7e_shapes.py'

model = dict(router=dict(in_layers=(0, 1, 2, 3, 4)))
