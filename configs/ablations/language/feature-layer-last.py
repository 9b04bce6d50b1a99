# Projector input: the last ViT layer instead of LLaVA's penultimate (-2).
_base_ = ['../../llava_detseg.py']

model = dict(language=dict(vision_feature_layer=-1))
