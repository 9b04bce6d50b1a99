# ADE20K (ADEChallengeData2016), 150 classes, reduce_zero_label as mmseg
# (label 0 "other" ignored): the pieces that coco-ade-llava_mixture.py
# assembles. mmseg's 512x512 training recipe. Check the tree with
# tools/dataset_converters/ade20k.py.
ade_root = 'data/ade/ADEChallengeData2016/'
ade_crop_size = (512, 512)
ade_scale = (2048, 512)

ade_train_pipeline = [
    dict(type='LoadImageWithCheck'),
    dict(type='CheckSemanticMap'),  # one channel, image size, labels <= 150
    dict(type='mmseg.LoadAnnotations'),  # reduce_zero_label from the dataset
    dict(type='RandomResize', scale=ade_scale, ratio_range=(0.5, 2.0),
         keep_ratio=True),
    dict(type='mmseg.RandomCrop', crop_size=ade_crop_size,
         cat_max_ratio=0.75),
    dict(type='mmdet.RandomFlip', prob=0.5),
    dict(type='mmseg.PhotoMetricDistortion'),
    dict(type='PackMultiTaskInputs'),
]
ade_test_pipeline = [
    dict(type='LoadImageWithCheck'),
    dict(type='mmdet.Resize', scale=ade_scale, keep_ratio=True),
    # after Resize: the map stays at the original size for scoring
    dict(type='CheckSemanticMap'),
    dict(type='mmseg.LoadAnnotations'),
    dict(type='PackMultiTaskInputs'),
]

ade_train = dict(
    type='ADE20KSegDataset',
    data_root=ade_root,
    data_prefix=dict(
        img_path='images/training', seg_map_path='annotations/training'),
    pipeline=ade_train_pipeline)
ade_val = dict(
    type='ADE20KSegDataset',
    data_root=ade_root,
    data_prefix=dict(
        img_path='images/validation',
        seg_map_path='annotations/validation'),
    test_mode=True,
    pipeline=ade_test_pipeline)
ade_evaluator = dict(
    type='TaskMetric',
    task='seg',
    meta_keys=dict(classes='seg_classes'),
    metric=dict(type='mmseg.IoUMetric', iou_metrics=['mIoU'], prefix='ade'))
# boundary F1 beside mIoU (DAVIS f-measure per class and image)
ade_bf1_evaluator = dict(
    type='TaskMetric',
    task='seg',
    meta_keys=dict(classes='seg_classes'),
    metric=dict(type='BoundaryF1Metric', prefix='ade'))
