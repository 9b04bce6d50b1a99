# The embedded default of `make demo`: the grounded text config (heads, VQA
# and <DET>/<SEG> text answers trained together from the random-initialised
# checkpoints) at about the plain demo's training budget on 2 CPU cores.
# One text instruction per image instead of three (any of the seven kinds,
# compound among them) and 6 epochs instead of 7: the text instructions are
# the longest sequences of a batch (up to ~460 tokens with the visual ones,
# VQA ~90), so each one per image costs ~0.37 s of a step. Measured
# (configs/text/README.md): 0.81 s per step plain, 1.95 s with three text
# instructions per image, 1.18 s with one; 750 steps ~15 min.
_base_ = ['./llava-detseg_clip-tiny_llama-tiny_1xb16-7e_shapes_text-grounded.py']

# ---------------------------------------------------------------- settings
max_epochs = 6
text_per_image = 1

# -------------------------------------------------------------------- data
train_pipeline = _base_.train_pipeline[:-2] + [
    dict(_base_.train_pipeline[-2], num_per_image=text_per_image),
    _base_.train_pipeline[-1],
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))

# ---------------------------------------------------------------- schedule
# `make evaluate` scores the last checkpoint once: no validation while
# training (decoding the ~1,000 text answers is the slow part of one).
# mmengine's EpochBasedTrainLoop validates after the last epoch whatever
# val_interval says; only val_begin past max_epochs turns that off.
train_cfg = dict(max_epochs=max_epochs, val_begin=max_epochs + 1,
                 val_interval=max_epochs + 1)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0,
         end=100),
    dict(type='CosineAnnealingLR', by_epoch=True, begin=0, end=max_epochs,
         T_max=max_epochs, eta_min_ratio=0.01, convert_to_iter_based=True),
]
