# Ablation on the 9-epoch default: each <DET> box's pooled image tokens,
# layer-normed to the token embeddings' size (region_features='norm'),
# added at its class name and its four <loc_i> tokens (region_span='item'),
# so that wherever the language model's attention to an item lands, the
# item's colour is there. On the default, every wrong colour answer is the
# colour of another object of the image (README, "Grounded VQA").
_base_ = [
    '../../llava-detseg_clip-tiny_llama-tiny_1xb16-9e_shapes_text-grounded-'
    '1perimg_vqa-context.py'
]

model = dict(language=dict(region_features='norm', region_span='item'))
