# Tasks on/off (tiny router config): the embedded default with the gated
# router plus image-text contrastive learning (itc): InfoNCE (both
# directions, learnable temperature) and the cross-modal alignment loss,
# weight 0.1 each, between the mean-pooled tokens of the router's itc path
# and the language model's pooled caption states; each shapes image's
# caption names its shapes, colours and rows (ShapesDataset, from the
# instances). Against: ../../llava-detseg_clip-tiny_llama-tiny_router-moe_1xb16-7e_shapes.py
_base_ = ['../../llava-detseg_clip-tiny_llama-tiny_router-moe_1xb16-7e_shapes.py']

tasks = ['det', 'seg', 'vqa', 'itc']
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

# R@1/5/10 image->text and text->image over the val images and captions
itc_evaluator = [
    dict(type='TaskMetric', task='itc',
         metric=dict(type='ImageTextRetrievalRecall', topk=(1, 5, 10))),
]
val_evaluator = _base_.val_evaluator + itc_evaluator
test_evaluator = val_evaluator
