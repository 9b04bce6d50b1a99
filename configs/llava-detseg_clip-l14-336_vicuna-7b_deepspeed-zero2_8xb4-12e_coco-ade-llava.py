# The full config trained with DeepSpeed ZeRO-2 through MMEngine's
# FlexibleRunner (needs `pip install deepspeed`; tools/train.py says so
# clearly when it is missing). Optimizer states and gradients are sharded
# over the GPUs; bf16 is DeepSpeed's own
# (configs/_base_/schedules/deepspeed_zero2.py). Its tiny twin,
# ..._clip-tiny_llama-tiny_deepspeed-zero2_2xb2-2e_coco-ade-llava-tiny.py,
# runs the same strategy on 2 CPU processes.
_base_ = [
    './llava-detseg_clip-l14-336_vicuna-7b_8xb4-12e_coco-ade-llava.py',
    './_base_/schedules/deepspeed_zero2.py',
]

runner_type = 'FlexibleRunner'
strategy = _base_.deepspeed_zero2_strategy
# DeepSpeed owns precision, clipping and the step (CompatDeepSpeedOptimWrapper:
# mmengine's, with the step outside autograd, which gloo needs)
optim_wrapper = dict(
    _delete_=True,
    type='CompatDeepSpeedOptimWrapper',
    optimizer=dict(type='AdamW', lr=2e-4, betas=(0.9, 0.999),
                   weight_decay=0.05))
# FlexibleRunner takes no DDP wrapper settings: DeepSpeed's ZeRO reducer
# skips the parameters a step leaves without gradient by itself
model_wrapper_cfg = None
