# Ablation on the 9-epoch default: each <DET> box's pooled image tokens,
# layer-normed to the token embeddings' size (region_features='norm'),
# added at its class name and at the question's own mention of that name
# (region_span='mention'): "What color is the circle?" then carries the
# circle's region on its word "circle", and "Is there a red circle?" holds
# "red" and the circle's colour side by side. On the default, every wrong
# colour answer is the colour of another object of the image: the language
# model does not learn to find the asked item in the block (README,
# "Grounded VQA").
_base_ = [
    '../../llava-detseg_clip-tiny_llama-tiny_1xb16-9e_shapes_text-grounded-'
    '1perimg_vqa-context.py'
]

model = dict(language=dict(region_features='norm', region_span='mention'))
