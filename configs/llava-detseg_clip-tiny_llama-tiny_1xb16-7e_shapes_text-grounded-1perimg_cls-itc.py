# The embedded default with every task of the model: detection,
# segmentation, VQA and the <DET>/<SEG> text answers of the grounded
# 1-per-image config, plus the image-level tasks on the same backbone pass
# (configs/_base_/tasks/shapes_image_level.py): classification of the class
# covering the most area and image-text contrastive learning on the
# generated captions, both also asked in words at every step.
_base_ = [
    './llava-detseg_clip-tiny_llama-tiny_1xb16-7e_shapes_text-grounded-1perimg.py',
    './_base_/tasks/shapes_image_level.py',
]

tasks = ['det', 'seg', 'vqa', 'cls', 'itc']
# cls and itc probe the shared ViT instead of training it (detach_backbone):
# trained into it, they cost 6.5 mIoU on shapes val whatever cls' weight
# (README, "Tasks as parts"). cls at itc's weight: every gradient is
# clipped to norm 1 together
model = dict(
    tasks=dict(cls=dict(_base_.cls_task, detach_backbone=True),
               itc=dict(_base_.itc_task, detach_backbone=True)),
    loss_weights=dict(cls=0.1))

# the class and caption conversations after SampleConversations (asked at
# every step), one conversation of their own that reads the image detached
# (detach_image): they train the language model, not the shared ViT. Read
# attached they cost detection 0.04 mAP on shapes val (0.583 against 0.620)
train_pipeline = _base_.train_pipeline[:-3] + [
    dict(_base_.image_level_conversations, detach_image=True),
] + _base_.train_pipeline[-3:]
test_pipeline = _base_.test_pipeline[:-1] + [
    dict(_base_.image_level_conversations, tasks=['cls'], as_questions=True),
    _base_.test_pipeline[-1],
]
train_dataloader = dict(dataset=dict(tasks=tasks, pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(tasks=tasks, pipeline=test_pipeline))
test_dataloader = val_dataloader

val_evaluator = (_base_.val_evaluator + _base_.cls_evaluator +
                 _base_.itc_evaluator)
test_evaluator = val_evaluator
