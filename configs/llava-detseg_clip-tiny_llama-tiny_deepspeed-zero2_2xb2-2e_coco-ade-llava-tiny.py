# The tiny twin trained with DeepSpeed ZeRO-2 (the full DeepSpeed config's
# strategy, configs/_base_/schedules/deepspeed_zero2.py), on CPUs (gloo,
# DeepSpeed's CPU accelerator) or GPUs:
#   pip install deepspeed
#   tools/dist_train.sh \
#       configs/llava-detseg_clip-tiny_llama-tiny_deepspeed-zero2_2xb2-2e_coco-ade-llava-tiny.py 2
_base_ = [
    './llava-detseg_clip-tiny_llama-tiny_2xb2-2e_coco-ade-llava-tiny.py',
    './_base_/schedules/deepspeed_zero2.py',
]

# The lines of the full DeepSpeed config, with the tiny twin's learning rate:
# a config inherits one parent's optim_wrapper, and this one is the twin's.
runner_type = 'FlexibleRunner'
strategy = _base_.deepspeed_zero2_strategy
# DeepSpeed owns precision, clipping and the step (CompatDeepSpeedOptimWrapper:
# mmengine's, with the step outside autograd, which gloo needs)
optim_wrapper = dict(
    _delete_=True,
    type='CompatDeepSpeedOptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-3, weight_decay=0.05))
# FlexibleRunner takes no DDP wrapper settings
model_wrapper_cfg = None
