# Ablation: grounded VQA (vqa-context.py) with the block on half of the
# training images only (text_cfg.vqa_context.train_prob=0.5; the others
# answer from the image alone). Shapes val: yes/no 0.70 and colour 0.67
# come back, counting falls to 0.44: the two-layer language model learns
# to read the block or the image, not both (README, "Grounded VQA").
_base_ = ['./vqa-context.py']

model = dict(text_cfg=dict(vqa_context=dict(train_prob=0.5)))
