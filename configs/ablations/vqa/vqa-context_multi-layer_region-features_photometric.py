# Ablation: vqa-context_multi-layer_region-features.py with brightness,
# contrast and saturation jitter in training (mmseg's PhotoMetricDistortion
# without hue changes or channel swaps, which would rename the colours).
# Held-out bbox mAP stays 0.58 (darker and brighter backgrounds were not
# what the head misses) and VQA falls (README, "Grounded VQA").
_base_ = ['./vqa-context_multi-layer_region-features.py']

# after RandomFlip, before the questions and text instructions are drawn
train_pipeline = _base_.train_pipeline[:5] + [
    dict(type='mmseg.PhotoMetricDistortion', brightness_delta=32,
         contrast_range=(0.6, 1.4), saturation_range=(0.7, 1.3),
         hue_delta=1)
] + _base_.train_pipeline[5:]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
