# Ablation: language-lr-x0.5.py at a quarter of the base learning rate.
_base_ = ['./language-lr-x0.5.py']

optim_wrapper = dict(
    paramwise_cfg=dict(custom_keys={'language.': dict(lr_mult=0.25)}))
