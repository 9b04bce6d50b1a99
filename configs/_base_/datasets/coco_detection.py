# COCO 2017 instances, detection with the 80 classes: the pieces that
# coco-ade-llava_mixture.py assembles (single-task runs use its `tasks`
# filter). Expected tree: data/README.md. Instance masks as semantic maps:
# tools/dataset_converters/coco_semantic.py, then data_prefix.seg and
# tasks=('det', 'seg').
coco_root = 'data/coco/'
coco_scale = (1333, 800)

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
    # after Resize: boxes stay in original coordinates for scoring
    dict(type='mmdet.LoadAnnotations', with_bbox=True),
    dict(type='PackMultiTaskInputs'),
]

coco_train = dict(
    type='Coco2017MultiTaskDataset',
    data_root=coco_root,
    ann_file='annotations/instances_train2017.json',
    data_prefix=dict(img='train2017/'),
    tasks=('det', ),
    filter_cfg=dict(filter_empty_gt=True, min_size=32),
    pipeline=coco_train_pipeline)
coco_val = dict(
    type='Coco2017MultiTaskDataset',
    data_root=coco_root,
    ann_file='annotations/instances_val2017.json',
    data_prefix=dict(img='val2017/'),
    tasks=('det', ),
    test_mode=True,
    pipeline=coco_test_pipeline)
coco_evaluator = dict(
    type='TaskMetric',
    task='det',
    metric=dict(
        type='DetCocoMetric',
        ann_file=coco_root + 'annotations/instances_val2017.json',
        metric='bbox',
        format_only=False,
        prefix='coco'))
