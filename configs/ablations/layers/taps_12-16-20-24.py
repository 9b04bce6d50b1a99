# Layer set: the deeper half of the ViT (12/16/20/24) instead of 6/12/18/24.
_base_ = ['../../llava_detseg.py']

model = dict(backbone=dict(out_indices=(12, 16, 20, 24)))
