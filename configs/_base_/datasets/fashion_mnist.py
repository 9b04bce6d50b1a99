# Fashion-MNIST (github.com/zalandoresearch/fashion-mnist; the four
# *-idx?-ubyte files, gzipped as published or unpacked, in
# data/fashion_mnist/): image classification, the pieces a classification
# run or a mixture assembles for the model's cls part (model.tasks.cls).
# The 28x28 gray images become 3-channel images (LoadImageFromArray) and
# are resized like any other.
fashion_mnist_root = 'data/fashion_mnist/'
fashion_mnist_scale = (384, 384)
fashion_mnist_on_error = 'raise'

# no flip, as mmpretrain's MNIST-style configs
fashion_mnist_train_pipeline = [
    dict(type='LoadImageFromArray'),
    dict(type='mmdet.Resize', scale=fashion_mnist_scale, keep_ratio=False),
    dict(type='PackMultiTaskInputs'),
]
fashion_mnist_test_pipeline = fashion_mnist_train_pipeline

fashion_mnist_train = dict(
    type='FashionMNISTDataset',
    data_root=fashion_mnist_root,
    split='train',
    on_error=fashion_mnist_on_error,
    pipeline=fashion_mnist_train_pipeline)
fashion_mnist_test = dict(
    type='FashionMNISTDataset',
    data_root=fashion_mnist_root,
    split='test',
    test_mode=True,
    on_error=fashion_mnist_on_error,
    pipeline=fashion_mnist_test_pipeline)
fashion_mnist_accuracy_evaluator = dict(
    type='TaskMetric', task='cls', metric=dict(type='Accuracy', topk=(1, 5)))
fashion_mnist_cm_evaluator = dict(
    type='TaskMetric', task='cls', metric=dict(type='ConfusionMatrix'))
# a mixture lists the two dicts above beside its other evaluators
fashion_mnist_evaluator = [fashion_mnist_accuracy_evaluator, fashion_mnist_cm_evaluator]
