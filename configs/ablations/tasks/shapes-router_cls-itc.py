# Tasks on/off (tiny router config): classification (cls) and image-text
# contrastive learning (itc) together with det / seg / vqa, one backbone
# pass; shapes-router_cls.py plus the itc lines of shapes-router_itc.py.
# Against: ../../llava-detseg_clip-tiny_llama-tiny_router-moe_1xb16-7e_shapes.py
_base_ = ['./shapes-router_cls.py']

tasks = ['det', 'seg', 'vqa', 'cls', 'itc']
itc_weight = 0.1
align_weight = 0.1
model = dict(
    tasks=dict(
        itc=dict(
            head=dict(
                type='ImageTextContrastiveHead',
                embed_dims=128,
                init_temperature=0.07,
                loss_contrastive=dict(type='InfoNCELoss',
                                      loss_weight=itc_weight),
                loss_align=dict(type='CrossModalAlignmentLoss',
                                loss_weight=align_weight)),
            pool='mean',
            text_encoder='llm')))
train_dataloader = dict(dataset=dict(tasks=tasks))
val_dataloader = dict(dataset=dict(tasks=tasks))
test_dataloader = dict(dataset=dict(tasks=tasks))

val_evaluator = _base_.val_evaluator + [
    dict(type='TaskMetric', task='itc',
         metric=dict(type='ImageTextRetrievalRecall', topk=(1, 5, 10))),
]
test_evaluator = val_evaluator
