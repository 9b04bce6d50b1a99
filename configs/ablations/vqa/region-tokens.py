# Ablation: the make demo config with each prompt box's region feature as a
# token of its own after the box (language.region_features='token'): the
# colour of a box is read next to its name, not found from its <loc_i>.
_base_ = [
    '../../llava-detseg_clip-tiny_llama-tiny_1xb16-7e_shapes_text-grounded-'
    '1perimg_vqa-context.py'
]

model = dict(language=dict(region_features='token'))
