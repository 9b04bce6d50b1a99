# Ablation: region-norm.py with each question's <DET> block after the
# question (text_cfg.vqa_context.position='question'): the block's items,
# each with its class and colour, see what is asked.
_base_ = ['./region-norm.py']

model = dict(text_cfg=dict(vqa_context=dict(position='question')))
