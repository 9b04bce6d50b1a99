# The full config trained with DeepSpeed ZeRO-2 through MMEngine's
# FlexibleRunner (needs `pip install deepspeed`; tools/train.py says so
# clearly when it is missing). Optimizer states and gradients are sharded
# over the GPUs; bf16 is DeepSpeed's own.
_base_ = ['./llava-detseg_clip-l14-336_vicuna-7b_8xb4-12e_coco-ade-llava.py']

runner_type = 'FlexibleRunner'
strategy = dict(
    type='DeepSpeedStrategy',
    bf16=dict(enabled=True),
    inputs_to_half=['inputs'],
    gradient_clipping=1.0,
    zero_optimization=dict(
        stage=2,
        allgather_partitions=True,
        allgather_bucket_size=int(5e8),
        reduce_scatter=True,
        reduce_bucket_size=int(5e8),
        overlap_comm=True,
        contiguous_gradients=True))
# DeepSpeed owns precision, clipping and the step
optim_wrapper = dict(
    _delete_=True,
    type='DeepSpeedOptimWrapper',
    optimizer=dict(type='AdamW', lr=2e-4, betas=(0.9, 0.999),
                   weight_decay=0.05))
