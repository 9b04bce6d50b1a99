# The full-scale LLaVA-DetSeg with the image-level tasks mixed in: CIFAR-10
# classification (cls) and Flickr8k image-caption pairs (itc, and as
# "Describe the image briefly." conversations, vqa) beside COCO (det),
# ADE20K (seg) and LLaVA-Instruct (vqa), all through one backbone pass and
# the gated router's per-task paths. Data trees: data/README.md.
#   tools/dist_train.sh configs/llava-detseg_clip-l14-336_vicuna-7b_8xb4-12e_coco-ade-llava-cifar-flickr.py 8
_base_ = [
    './llava-detseg_clip-l14-336_vicuna-7b_8xb4-12e_coco-ade-llava.py',
    './_base_/datasets/cifar10.py',
    './_base_/datasets/flickr8k.py',
]

# ---------------------------------------------------------------- settings
cifar10_classes = ('airplane', 'automobile', 'bird', 'cat', 'deer', 'dog',
                   'frog', 'horse', 'ship', 'truck')
itc_weight = 0.1    # InfoNCE (Diff-MoE's weight)
align_weight = 0.1  # cross-modal alignment (negative cosine similarity)

# ------------------------------------------------------------------- model
model = dict(
    router=dict(
        # cls / itc get their own task expert, embedding and instruction
        instructions=dict(
            cls='What is in this image?',
            itc='Describe the image briefly.')),
    adapters=dict(
        # the new heads train from scratch (the LLM and ViT keep LoRA)
        train_modules=('neck', 'det_head', 'seg_head', 'cls_head',
                       'itc_head')),
    tasks=dict(
        cls=dict(
            head=dict(type='LinearClsHead', num_classes=10), pool='cls'),
        itc=dict(
            head=dict(
                type='ImageTextContrastiveHead',
                embed_dims=512,
                init_temperature=0.07,
                loss_contrastive=dict(type='InfoNCELoss',
                                      loss_weight=itc_weight),
                loss_align=dict(type='CrossModalAlignmentLoss',
                                loss_weight=align_weight)),
            pool='mean',
            text_encoder='llm')))

# -------------------------------------------------------------------- data
# the classification classes under their own key: "classes" stays COCO's
cifar10_source = dict(_base_.cifar10_train,
                      metainfo=dict(cls_classes=cifar10_classes))
train_dataloader = dict(
    sampler=dict(ratios=dict(cifar10=0.5, flickr8k=0.5)),
    dataset=dict(
        datasets=dict(cifar10=cifar10_source,
                      flickr8k=_base_.flickr8k_train)))
val_dataloader = dict(
    dataset=dict(
        datasets=dict(
            cifar10=dict(_base_.cifar10_test,
                         metainfo=dict(cls_classes=cifar10_classes)),
            flickr8k=_base_.flickr8k_test)))
test_dataloader = val_dataloader

cls_evaluator = [
    dict(type='TaskMetric', task='cls',
         meta_keys=dict(classes='cls_classes'),
         metric=dict(type='Accuracy', topk=(1, 5))),
    dict(type='TaskMetric', task='cls',
         meta_keys=dict(classes='cls_classes'),
         metric=dict(type='ConfusionMatrix')),
]
val_evaluator = _base_.val_evaluator + cls_evaluator + [
    _base_.flickr8k_evaluator
]
test_evaluator = val_evaluator

# ----------------------------------------------------------------- runtime
# CIFAR-10 samples come from arrays (no image file): the hook leaves them
# undrawn where mmdet's would stop the validation
default_hooks = dict(visualization=dict(type='MultiTaskVisualizationHook'))
