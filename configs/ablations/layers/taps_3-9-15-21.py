# Layer set: shifted three layers earlier (3/9/15/21) than 6/12/18/24.
_base_ = ['../../llava_detseg.py']

model = dict(backbone=dict(out_indices=(3, 9, 15, 21)))
