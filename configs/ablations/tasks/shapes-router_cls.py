# Tasks on/off (tiny router config): the embedded default with the gated
# router plus image classification (cls): a LinearClsHead on the [CLS]
# token of the router's cls path, the label of each shapes image being the
# class that covers the most area (ShapesDataset reads it from the
# instances). Against: ../../llava-detseg_clip-tiny_llama-tiny_router-moe_1xb16-7e_shapes.py
_base_ = ['../../llava-detseg_clip-tiny_llama-tiny_router-moe_1xb16-7e_shapes.py']

tasks = ['det', 'seg', 'vqa', 'cls']
model = dict(
    tasks=dict(
        cls=dict(
            head=dict(type='LinearClsHead', num_classes=3),
            pool='cls')))
train_dataloader = dict(dataset=dict(tasks=tasks))
val_dataloader = dict(dataset=dict(tasks=tasks))
test_dataloader = dict(dataset=dict(tasks=tasks))

# top-1 (3 classes: no top-5) and the confusion matrix (a PNG per
# validation in the run's vis_data/vis_image/)
cls_evaluator = [
    dict(type='TaskMetric', task='cls',
         metric=dict(type='Accuracy', topk=(1, ))),
    dict(type='TaskMetric', task='cls', metric=dict(type='ConfusionMatrix')),
]
val_evaluator = _base_.val_evaluator + cls_evaluator
test_evaluator = val_evaluator
