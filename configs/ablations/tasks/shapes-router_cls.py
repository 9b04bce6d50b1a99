# Tasks on/off (tiny router config): the embedded default with the gated
# router plus image classification (cls): a LinearClsHead on the
# mean-pooled tokens of the router's cls path, the label of each shapes
# image being the class that covers the most area (ShapesDataset reads it
# from the instances; the task is configs/_base_/tasks/shapes_image_level.py).
# Against: ../../llava-detseg_clip-tiny_llama-tiny_router-moe_1xb16-7e_shapes.py
_base_ = [
    '../../llava-detseg_clip-tiny_llama-tiny_router-moe_1xb16-7e_shapes.py',
    '../../_base_/tasks/shapes_image_level.py',
]

tasks = ['det', 'seg', 'vqa', 'cls']
model = dict(tasks=dict(cls=_base_.cls_task))
train_dataloader = dict(dataset=dict(tasks=tasks))
val_dataloader = dict(dataset=dict(tasks=tasks))
test_dataloader = dict(dataset=dict(tasks=tasks))

val_evaluator = _base_.val_evaluator + _base_.cls_evaluator
test_evaluator = val_evaluator
