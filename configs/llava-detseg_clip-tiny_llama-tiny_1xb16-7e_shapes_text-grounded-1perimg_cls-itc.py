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
model = dict(tasks=dict(cls=_base_.cls_task, itc=_base_.itc_task))

# the class and caption conversations after SampleConversations (asked at
# every step), then every question of an image as the turns of one
# conversation: the image's tokens read once, not once per question (with
# the captions, 1.40 against 2.72 s of CPU a step; the plain default is
# 1.74: tools/analysis_tools/benchmark.py --threads 1 --clock cpu)
train_pipeline = _base_.train_pipeline[:-2] + [
    _base_.image_level_conversations,
    dict(type='MergeConversations'),
] + _base_.train_pipeline[-2:]
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
