# The generated shapes data (tools/dataset_converters/generate_shapes.py):
# COCO instances + semantic PNGs + LLaVA conversations, every image serving
# detection, segmentation and VQA.
dataset_type = 'ShapesDataset'
data_root = 'data/shapes/'
img_scale = (128, 128)
# 'raise': stop at the first bad file / box / conversation with a message
# naming it; 'skip': count, log and leave it out.
on_error = 'raise'

train_pipeline = [
    dict(type='LoadImageWithCheck', on_error=on_error),
    # map: one channel, the image's size, labels in seg_classes (or 255),
    # checked before mmdet reads it
    dict(type='CheckSemanticMap', on_error=on_error),
    dict(type='mmdet.LoadAnnotations', with_bbox=True, with_seg=True),
    dict(type='mmdet.Resize', scale=img_scale, keep_ratio=False),
    dict(type='mmdet.RandomFlip', prob=0.5),
    # every question of an image (the generator asks 4-6): VQA sequences
    # are short, the answers the language model learns from are few
    dict(type='SampleConversations', max_num=6),
    # ...as the turns of one conversation, the image's tokens read once
    # (not once per question): 14 min 19 s for `make demo` against 17:10
    dict(type='MergeConversations'),
    dict(type='PackMultiTaskInputs'),
]
test_pipeline = [
    dict(type='LoadImageWithCheck'),
    dict(type='mmdet.Resize', scale=img_scale, keep_ratio=False),
    # after Resize: boxes and masks stay in original coordinates for scoring
    dict(type='CheckSemanticMap'),
    dict(type='mmdet.LoadAnnotations', with_bbox=True, with_seg=True),
    dict(type='PackMultiTaskInputs'),
]

train_dataloader = dict(
    batch_size=16,
    num_workers=1,
    # fresh workers each epoch, seeded from (seed, epoch): see EpochSeedHook
    persistent_workers=False,
    # the scope prefix is needed: mmengine looks functions up without scope
    worker_init_fn=dict(type='llava_detseg.epoch_worker_init_fn'),
    sampler=dict(type='DefaultSampler', shuffle=True),
    batch_sampler=None,
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='annotations/instances_train.json',
        conv_file='annotations/llava_train.json',
        data_prefix=dict(img='images/train/', seg='semantic/train/'),
        seg_map_suffix='.png',
        filter_cfg=dict(filter_empty_gt=True),
        on_error=on_error,
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=16,
    num_workers=1,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='annotations/instances_val.json',
        conv_file='annotations/llava_val.json',
        data_prefix=dict(img='images/val/', seg='semantic/val/'),
        seg_map_suffix='.png',
        test_mode=True,
        on_error=on_error,
        pipeline=test_pipeline))
test_dataloader = val_dataloader

val_evaluator = [
    dict(
        type='TaskMetric',
        task='det',
        metric=dict(
            type='DetCocoMetric',
            ann_file=data_root + 'annotations/instances_val.json',
            metric='bbox',
            prefix='coco')),
    dict(
        type='TaskMetric',
        task='seg',
        meta_keys=dict(classes='seg_classes'),
        metric=dict(type='mmseg.IoUMetric', iou_metrics=['mIoU'],
                    prefix='seg')),
    # boundary F1 beside mIoU: how well the outlines are placed
    dict(
        type='TaskMetric',
        task='seg',
        meta_keys=dict(classes='seg_classes'),
        metric=dict(type='BoundaryF1Metric', prefix='seg')),
    dict(type='TaskMetric', task='vqa', metric=dict(type='VQAMetric')),
    # teacher-forced answer-token loss and perplexity of the conversations
    dict(type='TaskMetric', task='vqa', metric=dict(type='AnswerLossMetric')),
]
test_evaluator = val_evaluator
