# Stage 3 under forgetting pressure: the VQA cross-entropy nearly off
# (l1 = 0.01, as when little instruction data is mixed in), so the answers
# are held by distillation alone (its weight 100 x l1 = 1). One epoch.
_base_ = './llava-detseg_clip-tiny_llama-tiny_lora_stage3-distill_shapes.py'

model = dict(
    loss_weights=dict(vqa=0.01),
    # the answer KL is weighted by l1 like every VQA term: 100 x 0.01 = 1
    distiller=dict(vqa_weight=100.0))

max_epochs = 1
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs + 1)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=5),
    dict(type='CosineAnnealingLR', by_epoch=True, begin=0, end=max_epochs,
         T_max=max_epochs, eta_min_ratio=0.01, convert_to_iter_based=True),
]
