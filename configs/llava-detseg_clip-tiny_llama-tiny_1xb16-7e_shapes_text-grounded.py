# The embedded default answering "Detect all objects.", "Find every {cls}.",
# "Segment the {cls}.", compound, counting and "where" instructions with
# <DET>/<SEG> text (docs/text_format.md). Grounded mode: the dense heads'
# results are serialized into the prompt and the language model filters and
# copies them; it trains on the annotations serialized the same way.
_base_ = ['./llava-detseg_clip-tiny_llama-tiny_1xb16-7e_shapes.py']

classes = ('circle', 'square', 'triangle')
text_mode = 'grounded'
# low: text-mAP can only reach head-mAP if the context keeps the heads' recall
context_score_thr = 0.1
# ignore specks of the predicted semantic map in prompts and answers
codec = dict(max_boxes=20, max_vertices=16, tolerance=1.0,
             min_region_area=16)

model = dict(
    language=dict(special_tokens=dict(num_bins=1000)),
    text_cfg=dict(
        classes=classes,
        mode=text_mode,
        context_score_thr=context_score_thr,
        context_max_boxes=20,
        max_new_tokens=320,
        loss_weight=1.0,
        # answers are decoded with constrain='context' (the default of the
        # grounded mode): copied coordinates are fixed, the decisions count
        loc_loss_weight=0.1,
        # the decoder (text_cfg's default switch_prob=0.1) copies each class
        # whole as one run and starts another class only where the model
        # gives it >= 10 % and more than the closing tag (an "only {class}"
        # answer ends with its class); that decision is trained where it is
        # taken: every item of a training answer ends with "; " (both
        # measured in configs/text/README.md)
        terminate_items=True,
        codec=codec))

# annotations as contexts (the generative configs train on this one)
clean_train_pipeline = [
    dict(type='LoadImageWithCheck', on_error='raise'),
    dict(type='CheckSemanticMap'),
    dict(type='mmdet.LoadAnnotations', with_bbox=True, with_seg=True),
    dict(type='mmdet.Resize', scale=(128, 128), keep_ratio=False),
    dict(type='mmdet.RandomFlip', prob=0.5),
    dict(type='SampleConversations', max_num=6),  # as the plain config
    dict(type='MergeConversations'),
    # answers list one class after another, as class runs decode them, the
    # class of the context's first (most confident) box first: the class
    # order then tells a reader of the text which classes the model is
    # surest of (the rank scores of text_parse.answer_rank_scores)
    dict(type='GenerateTextInstructions', classes=classes, num_per_image=3,
         coords='img_shape', codec=codec, answer_order='confidence'),
    dict(type='PackMultiTaskInputs'),
]
# contexts that look like the heads' output (duplicates, low-score boxes),
# so that "detect all" copies the whole list, not one box per object the
# model sees; up to as many boxes as a test context holds (context_max_boxes):
# trained on at most 15, "only {class}" answers ran on past their class on
# the 20-box contexts of the test split (configs/text/README.md)
train_pipeline = clean_train_pipeline[:-2] + [
    dict(clean_train_pipeline[-2],
         context_noise=dict(prob=0.7, max_extra=20)),
    clean_train_pipeline[-1],
]
test_pipeline = [
    dict(type='LoadImageWithCheck'),
    dict(type='mmdet.Resize', scale=(128, 128), keep_ratio=False),
    dict(type='CheckSemanticMap'),
    dict(type='mmdet.LoadAnnotations', with_bbox=True, with_seg=True),
    # boxes and maps are still in original coordinates here
    dict(type='GenerateTextInstructions', classes=classes,
         num_per_image=None, coords='ori_shape', codec=codec,
         answer_order='confidence'),
    dict(type='PackMultiTaskInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader

# the heads' metrics of the base, then the text ones on the same annotations
val_evaluator = _base_.val_evaluator + [
    dict(
        type='TextDetSegMetric',
        det_metric=dict(
            type='DetCocoMetric',
            ann_file=_base_.data_root + 'annotations/instances_val.json',
            metric='bbox'),
        seg_metric=dict(type='mmseg.IoUMetric', iou_metrics=['mIoU']),
        codec=codec,
        head_score_thr=context_score_thr),
]
test_evaluator = val_evaluator

# `make demo` scores the last checkpoint once with tools/test.py; decoding
# about 1,000 text answers is the slow part of a validation, so training
# does not also validate at its end
# (mmengine validates at the last epoch whatever val_interval says)
train_cfg = dict(val_begin=_base_.max_epochs + 1)
