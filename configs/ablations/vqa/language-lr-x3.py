# Ablation: the make demo config with the language branch (language model,
# projector) at 3x the base learning rate. The 2-layer language model trains
# from random weights within the heads' budget and underfits: on training
# images its answers are as often wrong as on val (colour 0.63 / 0.60,
# yes/no 0.64 / 0.77, number 0.76 / 0.75).
_base_ = [
    '../../llava-detseg_clip-tiny_llama-tiny_1xb16-7e_shapes_text-grounded-'
    '1perimg_vqa-context.py'
]

optim_wrapper = dict(
    paramwise_cfg=dict(custom_keys={'language.': dict(lr_mult=3.0)}))
