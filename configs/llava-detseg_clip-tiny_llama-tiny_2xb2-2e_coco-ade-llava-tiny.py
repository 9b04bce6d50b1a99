# The full config's tiny twin: the same model, data mixture, sampler,
# evaluators, checkpointing and launch, at tiny sizes, on the tiny tree
# that tools/dataset_converters/make_tiny_samples.py writes (the full
# config's layout, a few images). On a CPU:
#   python tools/model_converters/make_tiny_llava.py
#   python tools/dataset_converters/make_tiny_samples.py --out-dir data/tiny
#   tools/dist_train.sh \
#       configs/llava-detseg_clip-tiny_llama-tiny_2xb2-2e_coco-ade-llava-tiny.py 2
# The full-width twin below holds the tiny tree, the schedule and the
# runtime; this file changes the widths and the input sizes.
_base_ = [
    './llava-detseg_clip-l14-336_vicuna-7b-2layer_2xb2-2e_coco-ade-llava-tiny.py'
]

# --------------------------------------------------------------- 1. settings
vit_dims = 128
neck_dims = 64

# ------------------------------------------------------------------ 2. model
# Tiny CLIP has 4 layers and patch 16: token_stride 32 with pyramid scales
# 4/2/1/0.5 puts the levels at the full config's strides 8/16/32/64 (+ FPN's
# 128), so the FCOS strides, regress ranges, class counts and padding stay
# inherited.
model = dict(
    backbone=dict(pretrained=_base_.checkpoint_root + 'clip-vit-tiny',
                  out_indices=(1, 2, 3, 4), token_stride=32),
    neck=[
        dict(type='SimplePyramid', in_channels=vit_dims,
             out_channels=neck_dims, scale_factors=(4.0, 2.0, 1.0, 0.5),
             norm_cfg=dict(type='GN', num_groups=16)),
        dict(type='mmdet.FPN', in_channels=[neck_dims] * 4,
             out_channels=neck_dims, num_outs=5, add_extra_convs='on_output'),
    ],
    det_head=dict(in_channels=neck_dims, feat_channels=neck_dims,
                  stacked_convs=1,
                  norm_cfg=dict(type='GN', num_groups=16,
                                requires_grad=True)),
    seg_head=dict(in_channels=[neck_dims] * 4, channels=neck_dims,
                  norm_cfg=dict(type='GN', num_groups=16,
                                requires_grad=True)),
    language=dict(pretrained=_base_.checkpoint_root + 'llava-tiny',
                  system_prompt='', max_new_tokens=4, torch_dtype=None))

# ------------------------------------------------------------------- 3. data
coco_scale = (160, 128)
coco_train_pipeline = [
    dict(type='LoadImageWithCheck'),
    dict(type='mmdet.LoadAnnotations', with_bbox=True),
    dict(type='mmdet.Resize', scale=coco_scale, keep_ratio=True),
    dict(type='mmdet.RandomFlip', prob=0.5),
    dict(type='PackMultiTaskInputs'),
]
coco_test_pipeline = [
    dict(type='LoadImageWithCheck'),
    dict(type='mmdet.Resize', scale=coco_scale, keep_ratio=True),
    dict(type='mmdet.LoadAnnotations', with_bbox=True),
    dict(type='PackMultiTaskInputs'),
]
ade_train_pipeline = [
    dict(type='LoadImageWithCheck'),
    dict(type='CheckSemanticMap'),
    dict(type='mmseg.LoadAnnotations'),
    dict(type='RandomResize', scale=(256, 64), ratio_range=(0.5, 2.0),
         keep_ratio=True),
    dict(type='mmseg.RandomCrop', crop_size=(64, 64), cat_max_ratio=0.75),
    dict(type='mmdet.RandomFlip', prob=0.5),
    dict(type='mmseg.PhotoMetricDistortion'),
    dict(type='PackMultiTaskInputs'),
]
ade_test_pipeline = [
    dict(type='LoadImageWithCheck'),
    dict(type='mmdet.Resize', scale=(256, 64), keep_ratio=True),
    dict(type='CheckSemanticMap'),
    dict(type='mmseg.LoadAnnotations'),
    dict(type='PackMultiTaskInputs'),
]
llava_train_pipeline = [
    dict(type='LoadImageWithCheck'),
    dict(type='mmdet.Resize', scale=(128, 128), keep_ratio=True),
    dict(type='mmdet.Pad', size=(128, 128),
         pad_val=dict(img=(104, 117, 123))),
    dict(type='SampleConversations', max_num=2),
    dict(type='PackMultiTaskInputs'),
]
llava_test_pipeline = llava_train_pipeline[:3] + [
    dict(type='PackMultiTaskInputs')
]

train_dataloader = dict(dataset=dict(datasets=dict(
    coco=dict(pipeline=coco_train_pipeline),
    ade=dict(pipeline=ade_train_pipeline),
    llava=dict(pipeline=llava_train_pipeline))))
val_dataloader = dict(dataset=dict(datasets=dict(
    coco=dict(pipeline=coco_test_pipeline),
    ade=dict(pipeline=ade_test_pipeline),
    llava=dict(pipeline=llava_test_pipeline))))
test_dataloader = val_dataloader

# --------------------------------------------------------------- 4. schedule
# fp32: at these widths bf16 saves nothing and costs the tests' precision
optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-3, weight_decay=0.05),
    clip_grad=dict(max_norm=1.0, norm_type=2))
