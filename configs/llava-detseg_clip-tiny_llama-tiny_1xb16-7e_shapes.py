# The embedded default: the full model's structure at tiny size, loaded from
# the random-initialised checkpoints that
# tools/model_converters/make_tiny_llava.py writes, trained on the generated
# shapes data on a CPU in minutes.
_base_ = [
    './_base_/models/llava-detseg_clip-l14-336_vicuna-7b.py',
    './_base_/datasets/shapes_multitask.py',
    './_base_/schedules/schedule_adamw_cosine.py',
    './_base_/default_runtime.py',
]

# ---------------------------------------------------------------- settings
checkpoint_root = 'data/checkpoints/'
clip_path = checkpoint_root + 'clip-vit-tiny'
llava_path = checkpoint_root + 'llava-tiny'
vit_dims = 128
neck_dims = 64
max_epochs = 7
base_lr = 1e-3

# ------------------------------------------------------------------- model
# Randomly initialised checkpoints: nothing is frozen.
model = dict(
    data_preprocessor=dict(pad_size_divisor=32),  # patch 16, coarsest level stride 32
    backbone=dict(pretrained=clip_path, out_indices=(1, 2, 3, 4),
                  frozen=False),
    neck=[
        dict(type='SimplePyramid', in_channels=vit_dims,
             out_channels=neck_dims, scale_factors=(4.0, 2.0, 1.0, 0.5),
             norm_cfg=dict(type='GN', num_groups=16)),
        dict(type='mmdet.FPN', in_channels=[neck_dims] * 4,
             out_channels=neck_dims, num_outs=4),
    ],
    det_head=dict(
        num_classes=3,
        in_channels=neck_dims,
        feat_channels=neck_dims,
        stacked_convs=2,
        strides=[4, 8, 16, 32],
        regress_ranges=((-1, 16), (16, 32), (32, 64), (64, 1e8)),
        norm_cfg=dict(type='GN', num_groups=16, requires_grad=True)),
    seg_head=dict(
        in_channels=[neck_dims] * 4,
        channels=neck_dims,
        num_classes=4,
        dropout_ratio=0.0,
        norm_cfg=dict(type='GN', num_groups=16, requires_grad=True)),
    language=dict(
        pretrained=llava_path,
        system_prompt='',
        max_new_tokens=6,
        freeze_llm=False,
        torch_dtype=None))

# ---------------------------------------------------------------- schedule
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
optim_wrapper = dict(optimizer=dict(lr=base_lr))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0,
         end=100),
    dict(type='CosineAnnealingLR', by_epoch=True, begin=0, end=max_epochs,
         T_max=max_epochs, eta_min_ratio=0.01, convert_to_iter_based=True),
]
auto_scale_lr = dict(base_batch_size=16)
