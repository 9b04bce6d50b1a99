# Ablation: the make demo config (grounded VQA, layers 1 and -2) with
# region features through a LayerNorm and a zero-initialised linear layer
# (language.region_features='linear'). It learns to pass them, and counting
# falls to the prior: the block's class names no longer match the
# question's (README, "Grounded VQA").
# measured with an image's questions merged (the default's then)
_base_ = ['./merged-conversations.py']

model = dict(language=dict(region_features='linear'))
