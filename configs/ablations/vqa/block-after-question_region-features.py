# Ablation: the make demo config with each question's <DET> block after the
# question (text_cfg.vqa_context.position='question') and each prompt box's
# pooled image tokens added to its class name (language.region_features):
# in the causal language model the block's items then see what is asked, and
# each item carries its own colour next to its name.
_base_ = [
    '../../llava-detseg_clip-tiny_llama-tiny_1xb16-7e_shapes_text-grounded-'
    '1perimg_vqa-context.py'
]

model = dict(
    language=dict(region_features=True),
    text_cfg=dict(vqa_context=dict(position='question')))
