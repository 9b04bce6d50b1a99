# Ablation: the make demo config with aspect-ratio augmentation: half of the
# training images get one side padded (edge pixels repeated) by up to 2x its
# length before the square Resize, so objects are squeezed by up to 2:1 more
# than the generator's 96-192 pixel sides do (RandomAspectPad). Shapes drawn
# 64-256 pixels a side are where the detector missed most boxes, in images
# wider or taller than 2:1.
# measured with an image's questions merged (the default's then)
_base_ = ['./merged-conversations.py']

# after LoadAnnotations, before Resize: the boxes and the map move with it
train_pipeline = _base_.train_pipeline[:3] + [
    dict(type='RandomAspectPad', max_ratio=2.0, prob=0.5)
] + _base_.train_pipeline[3:]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
