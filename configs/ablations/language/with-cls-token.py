# Projector input: keep the CLS token ('full') as well as the patch tokens.
_base_ = ['../../llava_detseg.py']

model = dict(language=dict(vision_feature_select_strategy='full'))
