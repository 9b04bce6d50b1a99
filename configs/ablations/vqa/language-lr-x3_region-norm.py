# Ablation: language-lr-x3.py with each prompt box's pooled image tokens
# layer-normed and added to its name (language.region_features='norm').
_base_ = ['./language-lr-x3.py']

model = dict(language=dict(region_features='norm'))
