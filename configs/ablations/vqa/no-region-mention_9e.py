# Ablation on the 9-epoch default: no region features (the default before
# them). The question's class word and the block's names are text alone,
# and the 2-layer language model has to find the asked item's image tokens
# from its <loc_i> tokens: every wrong colour answer was the colour of
# another shape of the image (README, "Grounded VQA").
_base_ = [
    '../../llava-detseg_clip-tiny_llama-tiny_1xb16-9e_shapes_text-grounded-'
    '1perimg_vqa-context.py'
]

model = dict(language=dict(region_features=False, region_span='name'))
