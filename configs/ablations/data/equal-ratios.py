# Mixture: the three sources drawn equally instead of 2:1:2.
_base_ = ['../../llava_detseg.py']

train_dataloader = dict(
    sampler=dict(ratios=dict(coco=1.0, ade=1.0, llava=1.0)))
