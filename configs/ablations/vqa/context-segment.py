# Ablation: the make demo config with a learned segment vector added to the
# tokens of the prompt's <DET> block (language.context_segment=True): a
# question's class name is the same token as the block's, and the 2-layer
# language model did not tell them apart (yes/no at chance: P(yes) 0.47-0.48
# whatever the block holds, teacher-forced on val).
_base_ = [
    '../../llava-detseg_clip-tiny_llama-tiny_1xb16-7e_shapes_text-grounded-'
    '1perimg_vqa-context.py'
]

model = dict(language=dict(context_segment=True))
