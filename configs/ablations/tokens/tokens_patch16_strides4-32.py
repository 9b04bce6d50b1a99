# Ablation: the embedded default's token grid and pyramid before issue 19 --
# the tiny ViT at its own patch 16 (8 x 8 tokens on 128 x 128), four taps
# (1/2/3/4) made into strides 4/8/16/32 (an upsampling stride-4 level), FCOS
# and FCN on all four, every patch token to the language model.
_base_ = ['../../llava-detseg_clip-tiny_llama-tiny_1xb16-7e_shapes.py']

neck_dims = 64
num_levels = 4

model = dict(
    backbone=dict(out_indices=(1, 2, 3, 4), token_stride=None),
    neck=[
        dict(type='SimplePyramid', in_channels=_base_.vit_dims,
             out_channels=neck_dims, scale_factors=(4.0, 2.0, 1.0, 0.5),
             norm_cfg=dict(type='GN', num_groups=16)),
        dict(type='mmdet.FPN', in_channels=[neck_dims] * num_levels,
             out_channels=neck_dims, num_outs=num_levels),
    ],
    det_head=dict(
        strides=[4, 8, 16, 32],
        regress_ranges=((-1, 16), (16, 32), (32, 64), (64, 1e8))),
    seg_head=dict(in_channels=[neck_dims] * num_levels,
                  in_index=list(range(num_levels))),
    language=dict(image_token_pool=1))
