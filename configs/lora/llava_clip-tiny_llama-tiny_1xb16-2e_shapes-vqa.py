# The VQA reference for the LoRA stages: a short VQA-only run of the embedded
# default. On the tiny model the "original LLaVA" is random, so this
# checkpoint stands in for LLaVA-1.5: the stages start from it, freeze its
# weights, and measure forgetting against it (tools/test.py
# --reference-checkpoint).
_base_ = '../llava-detseg_clip-tiny_llama-tiny_1xb16-7e_shapes.py'

max_epochs = 2

# LLaVA alone: no dense heads yet (stage 1 adds them).
model = dict(det_head=None, seg_head=None)

train_dataloader = dict(dataset=dict(tasks=('vqa', )))
val_dataloader = dict(dataset=dict(tasks=('vqa', )))
test_dataloader = val_dataloader
val_evaluator = [dict(type='TaskMetric', task='vqa',
                      metric=dict(type='VQAMetric'))]
test_evaluator = val_evaluator

train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0,
         end=100),
    dict(type='CosineAnnealingLR', by_epoch=True, begin=0, end=max_epochs,
         T_max=max_epochs, eta_min_ratio=0.01, convert_to_iter_based=True),
]
