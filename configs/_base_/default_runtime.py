# Runtime shared by every config: hooks, logging, visualisation, launch.
default_scope = 'llava_detseg'

default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=20),
    param_scheduler=dict(type='ParamSchedulerHook'),
    # mmengine's CheckpointHook, written atomically (temporary file, then
    # rename), old ones removed only after the new one is on disk, and the
    # last finite checkpoint never rotated out by NaN ones
    checkpoint=dict(type='SafeCheckpointHook', interval=1, max_keep_ckpts=3),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    # draws every `interval`-th validation sample into the work dir;
    # tools/test.py --show-dir draws all of them
    visualization=dict(type='mmdet.DetVisualizationHook', draw=True,
                       interval=50))

env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    # tools/train.py switches to gloo when CUDA is absent
    dist_cfg=dict(backend='nccl'))

# device_ids=None lets the same wrapper serve CPU (gloo) and GPU processes.
model_wrapper_cfg = dict(
    type='MMDistributedDataParallel',
    device_ids=None,
    broadcast_buffers=False)

# EpochSeedHook seeds every RNG from (seed, epoch): a resumed run repeats the
# original. NonFiniteGuardHook stops the run at the first NaN / inf loss or
# gradient norm, before that step reaches the weights or a checkpoint.
custom_hooks = [
    dict(type='EpochSeedHook'),
    dict(type='NonFiniteGuardHook', interval=1, check_grad_norm=True),
]

vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(
    type='MultiTaskVisualizer', vis_backends=vis_backends, name='visualizer')
log_processor = dict(type='LogProcessor', window_size=20, by_epoch=True)

log_level = 'INFO'
load_from = None
resume = False
randomness = dict(seed=0)
