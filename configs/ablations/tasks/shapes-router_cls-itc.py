# Tasks on/off (tiny router config): classification (cls) and image-text
# contrastive learning (itc) together with det / seg / vqa, one backbone
# pass (configs/_base_/tasks/shapes_image_level.py).
# Against: ../../llava-detseg_clip-tiny_llama-tiny_router-moe_1xb16-7e_shapes.py
_base_ = ['./shapes-router_cls.py']

tasks = ['det', 'seg', 'vqa', 'cls', 'itc']
model = dict(tasks=dict(itc=_base_.itc_task))
train_dataloader = dict(dataset=dict(tasks=tasks))
val_dataloader = dict(dataset=dict(tasks=tasks))
test_dataloader = dict(dataset=dict(tasks=tasks))

val_evaluator = _base_.val_evaluator + _base_.itc_evaluator
test_evaluator = val_evaluator
