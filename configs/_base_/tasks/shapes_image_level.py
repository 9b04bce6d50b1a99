# The image-level tasks on the shapes data, as parts a config puts under
# model.tasks (they are not tasks of the model until it does):
# classification (cls), a LinearClsHead on the mean of the patch tokens,
# each image's label the class that covers the most area (the mean weighs
# every shape by its area, the label's own rule; in 875 steps of the
# embedded default neither it nor the [CLS] token gets past the class
# prior: README, "Tasks as parts"); image-text contrastive learning
# (itc), InfoNCE (both directions, learnable temperature) and the
# cross-modal alignment loss at Diff-MoE's weights, between the mean-pooled
# tokens and the language model's pooled caption states (ShapesDataset reads
# labels and captions from the instances).
shapes_cls_classes = ('circle', 'square', 'triangle')
itc_weight = 0.1
align_weight = 0.1
cls_task = dict(
    head=dict(type='LinearClsHead', num_classes=len(shapes_cls_classes)),
    pool='mean')
itc_task = dict(
    head=dict(
        type='ImageTextContrastiveHead',
        embed_dims=128,
        init_temperature=0.07,
        loss_contrastive=dict(type='InfoNCELoss', loss_weight=itc_weight),
        loss_align=dict(type='CrossModalAlignmentLoss',
                        loss_weight=align_weight)),
    pool='mean',
    text_encoder='llm')

# top-1 (3 classes: no top-5) and the confusion matrix (a PNG per validation
# in the run's vis_data/vis_image/)
cls_evaluator = [
    dict(type='TaskMetric', task='cls',
         metric=dict(type='Accuracy', topk=(1, ))),
    dict(type='TaskMetric', task='cls', metric=dict(type='ConfusionMatrix')),
]
# R@1/5/10 image->text and text->image over the val images and captions
itc_evaluator = [
    dict(type='TaskMetric', task='itc',
         metric=dict(type='ImageTextRetrievalRecall', topk=(1, 5, 10))),
]

# The same labels and captions asked in words: the language branch learns
# "Which shape covers the most area?" -> "circle" and "Describe the image
# briefly." -> the caption at every step; val scores the class question
# (VQAMetric's 'class' type)
image_level_conversations = dict(
    type='ImageLevelConversations', classes=shapes_cls_classes,
    label_question='Which shape covers the most area?')
