# Ablation: the make demo config with the language branch (language model,
# projector) at half the base learning rate (language-lr-x3.py trained it
# worse: VQA loss 0.30 against 0.19 after 5 epochs).
_base_ = [
    '../../llava-detseg_clip-tiny_llama-tiny_1xb16-7e_shapes_text-grounded-'
    '1perimg_vqa-context.py'
]

optim_wrapper = dict(
    paramwise_cfg=dict(custom_keys={'language.': dict(lr_mult=0.5)}))
