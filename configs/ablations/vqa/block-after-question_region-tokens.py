# Ablation: the make demo config with each question's <DET> block after the
# question (text_cfg.vqa_context.position='question') and each prompt box's
# pooled image tokens as a token of its own after the box
# (language.region_features='token').
_base_ = [
    '../../llava-detseg_clip-tiny_llama-tiny_1xb16-7e_shapes_text-grounded-'
    '1perimg_vqa-context.py'
]

model = dict(
    language=dict(region_features='token'),
    text_cfg=dict(vqa_context=dict(position='question')))
