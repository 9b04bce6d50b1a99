# Ablation: mmseg's FCN head instead of the light U-Net decoder
# (LightUNetHead) on the embedded default's pyramid (strides 8/16/32,
# 64 channels): every level resized to the finest and concatenated, one 3x3
# conv there. Everything else as in the tiny shapes config.
_base_ = ['../../llava-detseg_clip-tiny_llama-tiny_1xb16-7e_shapes.py']

neck_dims = 64

model = dict(
    seg_head=dict(
        _delete_=True,
        type='mmseg.FCNHead',
        in_channels=[neck_dims] * _base_.num_levels,
        in_index=list(range(_base_.num_levels)),
        input_transform='resize_concat',
        channels=neck_dims,
        num_convs=1,
        concat_input=False,
        num_classes=4,
        dropout_ratio=0.0,
        norm_cfg=dict(type='GN', num_groups=16, requires_grad=True),
        align_corners=False,
        loss_decode=dict(
            type='mmseg.CrossEntropyLoss', use_sigmoid=False,
            loss_weight=1.0)))
