# Layer set: every pyramid level from the last ViT layer (ViTDet's choice)
# instead of layers 6/12/18/24.
_base_ = ['../../llava_detseg.py']

model = dict(backbone=dict(out_indices=(24, 24, 24, 24)))
