# CIFAR-10 (cs.toronto.edu/~kriz/cifar.html, cifar-10-python.tar.gz
# unpacked into data/cifar10/): image classification, the pieces a
# classification run or a mixture assembles for the model's cls part
# (model.tasks.cls); mixed into COCO + ADE20K + LLaVA by
# configs/llava-detseg_clip-l14-336_vicuna-7b_8xb4-12e_coco-ade-llava-cifar-flickr.py.
# Expected tree: data/README.md. The 32x32 images go through the same
# preprocessing as any other image (LoadImageFromArray: BGR, 3 channels).
cifar10_root = 'data/cifar10/'
# x 14/16 (the backbone's token_stride) = the CLIP input of LLaVA-1.5
cifar10_scale = (384, 384)
# 'raise': stop at the first bad batch file or label with a message naming
# it; 'skip': count, log and leave it out.
cifar10_on_error = 'raise'

cifar10_train_pipeline = [
    dict(type='LoadImageFromArray', channel_order='rgb'),
    dict(type='mmdet.RandomFlip', prob=0.5),
    dict(type='mmdet.Resize', scale=cifar10_scale, keep_ratio=False),
    dict(type='PackMultiTaskInputs'),
]
cifar10_test_pipeline = [
    dict(type='LoadImageFromArray', channel_order='rgb'),
    dict(type='mmdet.Resize', scale=cifar10_scale, keep_ratio=False),
    dict(type='PackMultiTaskInputs'),
]

cifar10_train = dict(
    type='CIFAR10Dataset',
    data_root=cifar10_root,
    split='train',
    # also ask the class in words (the language branch learns it too):
    # question='What is in this image?',
    on_error=cifar10_on_error,
    pipeline=cifar10_train_pipeline)
cifar10_test = dict(
    type='CIFAR10Dataset',
    data_root=cifar10_root,
    split='test',
    test_mode=True,
    on_error=cifar10_on_error,
    pipeline=cifar10_test_pipeline)
# top-1 / top-5 as mmpretrain reports them, and the confusion matrix (a PNG
# per evaluation in the run's vis_data/vis_image/)
cifar10_accuracy_evaluator = dict(
    type='TaskMetric', task='cls', metric=dict(type='Accuracy', topk=(1, 5)))
cifar10_cm_evaluator = dict(
    type='TaskMetric', task='cls', metric=dict(type='ConfusionMatrix'))
# a mixture lists the two dicts above beside its other evaluators
cifar10_evaluator = [cifar10_accuracy_evaluator, cifar10_cm_evaluator]
# with question= set on the datasets: the class answered in words by the
# language branch, scored by exact match after VQA normalisation
cifar10_answer_evaluator = dict(
    type='TaskMetric', task='vqa',
    metric=dict(type='VQAMetric', answer_types=False, prefix='cls_answer'))
