# The full-size model: CLIP ViT-L/14-336 tapped at layers 6/12/18/24, a
# simple pyramid + FPN, FCOS, an FCN head, and the LLaVA-1.5 language branch
# (mlp2x_gelu projector + Vicuna-7B). Weights load through from_pretrained.
clip_path = 'openai/clip-vit-large-patch14-336'
llava_path = 'llava-hf/llava-1.5-7b-hf'
num_det_classes = 80
num_seg_classes = 150
vit_dims = 1024
neck_dims = 256

model = dict(
    type='LlavaDetSeg',
    data_preprocessor=dict(
        type='MultiTaskDataPreprocessor',
        # CLIP's normalisation, on 0..255 pixels
        mean=[122.770938, 116.7460125, 104.09373615],
        std=[68.5005327, 66.6321579, 70.32316305],
        bgr_to_rgb=True,
        # the coarsest level (FPN's extra P7) has stride 128
        pad_size_divisor=128,
        pad_seg=True,
        seg_pad_value=255),
    backbone=dict(
        type='CLIPViTBackbone',
        pretrained=clip_path,
        out_indices=(6, 12, 18, 24),
        # patch 14 cannot reach strides 8..128 by powers of two (14 x 2^k);
        # the input is resized by 14/16 before the ViT, so a token covers
        # exactly 16 input pixels and the pyramid below is 8/16/32/64
        token_stride=16,
        frozen=True),
    neck=[
        dict(
            type='SimplePyramid',
            in_channels=vit_dims,
            out_channels=neck_dims,
            scale_factors=(2.0, 1.0, 0.5, 0.25)),  # strides 8/16/32/64
        dict(
            type='mmdet.FPN',
            in_channels=[neck_dims] * 4,
            out_channels=neck_dims,
            num_outs=5,
            add_extra_convs='on_output'),  # + stride 128
    ],
    det_head=dict(
        type='mmdet.FCOSHead',
        num_classes=num_det_classes,
        in_channels=neck_dims,
        feat_channels=neck_dims,
        stacked_convs=4,
        strides=[8, 16, 32, 64, 128],
        regress_ranges=((-1, 64), (64, 128), (128, 256), (256, 512),
                        (512, 1e8)),
        norm_cfg=dict(type='GN', num_groups=32, requires_grad=True),
        norm_on_bbox=True,
        centerness_on_reg=True,
        center_sampling=True,
        conv_bias=True,
        loss_cls=dict(
            type='mmdet.FocalLoss',
            use_sigmoid=True,
            gamma=2.0,
            alpha=0.25,
            loss_weight=1.0),
        loss_bbox=dict(type='mmdet.GIoULoss', loss_weight=1.0),
        loss_centerness=dict(
            type='mmdet.CrossEntropyLoss', use_sigmoid=True,
            loss_weight=1.0)),
    seg_head=dict(
        type='mmseg.FCNHead',
        in_channels=[neck_dims] * 4,
        in_index=[0, 1, 2, 3],
        input_transform='resize_concat',
        channels=neck_dims,
        num_convs=1,
        concat_input=False,
        dropout_ratio=0.1,
        num_classes=num_seg_classes,
        norm_cfg=dict(type='GN', num_groups=32, requires_grad=True),
        align_corners=False,
        loss_decode=dict(
            type='mmseg.CrossEntropyLoss', use_sigmoid=False,
            loss_weight=1.0)),
    language=dict(
        type='LlavaLanguageBranch',
        pretrained=llava_path,
        vision_feature_layer=-2,
        max_new_tokens=64,
        freeze_llm=True,
        torch_dtype='bfloat16'),
    loss_weights=dict(det=1.0, seg=1.0, vqa=1.0),
    train_cfg=dict(),
    test_cfg=dict(
        det=dict(
            nms_pre=1000,
            min_bbox_size=0,
            score_thr=0.05,
            nms=dict(type='nms', iou_threshold=0.6),
            max_per_img=100)))
