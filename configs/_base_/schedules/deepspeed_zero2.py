# DeepSpeed ZeRO-2 through MMEngine's FlexibleRunner: optimizer states and
# gradients sharded over the processes, bf16 as DeepSpeed's own (it casts
# the model and the images; no AmpOptimWrapper), clipping by DeepSpeed.
# A config takes it with
#   runner_type = 'FlexibleRunner'
#   strategy = _base_.deepspeed_zero2_strategy
#   optim_wrapper = dict(_delete_=True, type='CompatDeepSpeedOptimWrapper',
#                        optimizer=...)
# Variables only, so it combines with any config in _base_ = [...].
deepspeed_zero2_strategy = dict(
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
