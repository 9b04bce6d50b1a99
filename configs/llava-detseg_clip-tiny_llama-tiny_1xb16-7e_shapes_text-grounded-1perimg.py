# The embedded default of `make demo`: the grounded text config (heads, VQA
# and <DET>/<SEG> text answers trained together from the random-initialised
# checkpoints, 7 epochs) at about the plain demo's training budget on 2 CPU
# cores. One text instruction per image instead of three, drawn from all
# seven kinds (compound among them): the text instructions are the longest
# sequences of a batch (~120-460 tokens with the visual ones, VQA ~90, all
# padded to the longest), so each one per image costs ~0.3 s of a step.
# Measured on 2 idle cores with the patch-16 grid (configs/text/README.md):
# 0.80 s per step plain, 1.70 s with three text instructions per image, 1.00
# s with one; with the stride-8 tokens of the tiny default, ~0.98 s with one,
# and ~0.75 s once an image's questions are one conversation
# (MergeConversations; 875 steps: README, "What the embedded default
# reaches").
_base_ = ['./llava-detseg_clip-tiny_llama-tiny_1xb16-7e_shapes_text-grounded.py']

# ---------------------------------------------------------------- settings
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
train_cfg = dict(val_begin=_base_.max_epochs + 1)
