# Ablation: the make demo config (grounded VQA, layers 1 and -2) with each
# prompt box's region feature as a token of its own after the box
# (language.region_features='token', GPT4RoI's placeholders): the names and
# boxes keep their embeddings, the region is read like an image token.
_base_ = [
    '../../llava-detseg_clip-tiny_llama-tiny_1xb16-7e_shapes_text-grounded-'
    '1perimg_vqa-context.py'
]

model = dict(language=dict(region_features='token'))
