# LLaVA-Instruct-150K conversations on COCO train2017 images, VQA only: the
# pieces that coco-ade-llava_mixture.py assembles. The train / held-out val
# files come from tools/dataset_converters/llava_instruct.py (--val-size).
# llava_v1_5_mix665k: ann_file='llava/llava_v1_5_mix665k.json' and
# data_prefix=dict(img='llava/') over LLaVA's coco/ gqa/ ocr_vqa/ textvqa/
# vg/ folders; its text-only entries are left out (text_only='skip').
llava_root = 'data/'
# x 14/16 (the backbone's token_stride) = LLaVA-1.5's 336: its 576 tokens
llava_scale = (384, 384)

llava_train_pipeline = [
    dict(type='LoadImageWithCheck'),
    dict(type='mmdet.Resize', scale=llava_scale, keep_ratio=True),
    # LLaVA-1.5 pads to a square with the CLIP mean colour (BGR here)
    dict(type='mmdet.Pad', size=llava_scale,
         pad_val=dict(img=(104, 117, 123))),
    dict(type='SampleConversations', max_num=4),
    dict(type='PackMultiTaskInputs'),
]
llava_test_pipeline = [
    dict(type='LoadImageWithCheck'),
    dict(type='mmdet.Resize', scale=llava_scale, keep_ratio=True),
    dict(type='mmdet.Pad', size=llava_scale,
         pad_val=dict(img=(104, 117, 123))),
    dict(type='PackMultiTaskInputs'),
]

llava_train = dict(
    type='LlavaInstructDataset',
    data_root=llava_root,
    ann_file='llava/llava_instruct_150k_train.json',
    data_prefix=dict(img='coco/train2017/'),
    text_only='skip',
    pipeline=llava_train_pipeline)
llava_val = dict(
    type='LlavaInstructDataset',
    data_root=llava_root,
    ann_file='llava/llava_instruct_150k_val.json',
    data_prefix=dict(img='coco/train2017/'),
    test_mode=True,
    pipeline=llava_test_pipeline)
# held-out LLaVA-Instruct answers are paragraphs: exact match reads ~0 for
# any model, so they are scored by answer-token loss and perplexity
llava_evaluator = dict(
    type='TaskMetric', task='vqa', metric=dict(type='AnswerLossMetric'))
