# Ablation: the make demo config trained 9 epochs instead of 7 (1125
# steps, ~16.5 minutes at make demo's 0.81 s a step: over its budget). The
# VQA loss is still falling at epoch 7 (0.204 / 0.182 / 0.168 over epochs
# 5-7), so this measures what steps freed elsewhere (e.g. reading an
# image's tokens once for all its questions) would buy.
_base_ = [
    '../../llava-detseg_clip-tiny_llama-tiny_1xb16-7e_shapes_text-grounded-'
    '1perimg_vqa-context.py'
]

max_epochs = 9
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs,
                 val_begin=max_epochs + 1)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0,
         end=100),
    dict(type='CosineAnnealingLR', by_epoch=True, begin=0, end=max_epochs,
         T_max=max_epochs, eta_min_ratio=0.01, convert_to_iter_based=True),
]
