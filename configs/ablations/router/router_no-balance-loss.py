# The router without the load-balancing losses (router and projector).
_base_ = '../../llava-detseg_clip-tiny_llama-tiny_router-moe_1xb16-7e_shapes.py'

model = dict(
    router=dict(loss_balance=None),
    language=dict(projector=dict(loss_balance=None)))
