# Tasks on/off (tiny router config): the embedded default with the gated
# router plus image-text contrastive learning (itc): InfoNCE (both
# directions, learnable temperature) and the cross-modal alignment loss,
# weight 0.1 each, between the mean-pooled tokens of the router's itc path
# and the language model's pooled caption states; each shapes image's
# caption names its shapes, colours and rows (ShapesDataset, from the
# instances; the task is configs/_base_/tasks/shapes_image_level.py).
# Against: ../../llava-detseg_clip-tiny_llama-tiny_router-moe_1xb16-7e_shapes.py
_base_ = [
    '../../llava-detseg_clip-tiny_llama-tiny_router-moe_1xb16-7e_shapes.py',
    '../../_base_/tasks/shapes_image_level.py',
]

tasks = ['det', 'seg', 'vqa', 'itc']
model = dict(tasks=dict(itc=_base_.itc_task))
train_dataloader = dict(dataset=dict(tasks=tasks))
val_dataloader = dict(dataset=dict(tasks=tasks))
test_dataloader = dict(dataset=dict(tasks=tasks))

val_evaluator = _base_.val_evaluator + _base_.itc_evaluator
test_evaluator = val_evaluator
