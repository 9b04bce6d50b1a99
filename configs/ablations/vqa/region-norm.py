# Ablation: the make demo config with each prompt box's pooled image tokens
# added to its class name, layer-normed to the token embeddings' size
# (language.region_features='norm'): the block's name token then holds the
# class and the colour of its box, and a question's class word can read the
# colour there in one attention step.
_base_ = [
    '../../llava-detseg_clip-tiny_llama-tiny_1xb16-7e_shapes_text-grounded-'
    '1perimg_vqa-context.py'
]

model = dict(language=dict(region_features='norm'))
