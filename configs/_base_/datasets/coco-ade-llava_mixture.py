# The full-scale data: COCO detection + ADE20K segmentation + LLaVA-Instruct
# VQA, drawn by MixtureSampler in the ratios below. Each batch comes from
# one source (its own image size); every rank gets as many batches.
# `tasks=[...]` on a dataset keeps only the sources serving those tasks.
_base_ = [
    './coco_detection.py', './ade20k_segmentation.py', './llava_instruct.py'
]

train_batch_size = 4  # per GPU; also the sampler's batch_size below
# share of each source in an epoch (draws = the sources' total size)
mixture_ratios = dict(coco=2.0, ade=1.0, llava=2.0)

train_dataloader = dict(
    batch_size=train_batch_size,
    num_workers=4,
    # fresh workers each epoch, seeded from (seed, epoch): see EpochSeedHook
    persistent_workers=False,
    worker_init_fn=dict(type='llava_detseg.epoch_worker_init_fn'),
    sampler=dict(
        type='MixtureSampler',
        ratios=mixture_ratios,
        batch_size=train_batch_size,
        shuffle=True),
    batch_sampler=None,
    dataset=dict(
        type='MultiTaskConcatDataset',
        datasets=dict(
            coco=_base_.coco_train,
            ade=_base_.ade_train,
            llava=_base_.llava_train)))
val_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type='MultiTaskConcatDataset',
        datasets=dict(
            coco=_base_.coco_val, ade=_base_.ade_val,
            llava=_base_.llava_val)))
test_dataloader = val_dataloader

val_evaluator = [
    _base_.coco_evaluator, _base_.ade_evaluator, _base_.ade_bf1_evaluator,
    _base_.llava_evaluator
]
test_evaluator = val_evaluator
