# Ablation: region features (vqa-context_region-features.py) with the
# block on half of the training images (train_prob=0.5). Shapes val: VQA
# 0.604, yes/no 0.67, number 0.54, colour 0.60 (README, "Grounded VQA").
_base_ = ['./vqa-context_region-features.py']

model = dict(text_cfg=dict(vqa_context=dict(train_prob=0.5)))
