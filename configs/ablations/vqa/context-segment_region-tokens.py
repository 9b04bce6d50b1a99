# Ablation: context-segment.py with each prompt box's region feature as a
# token of its own after the box (language.region_features='token').
_base_ = ['./context-segment.py']

model = dict(language=dict(region_features='token'))
