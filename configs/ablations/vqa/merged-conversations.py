# Ablation: the make demo config with an image's questions as the turns of
# one conversation (MergeConversations, the earlier defaults'), the <DET>
# block in front of the first: its tokens are read once per image, not once
# per question, and the 2-layer language model never learns yes/no (P(yes)
# 0.46-0.48 whatever the block holds; README, "Grounded VQA").
_base_ = [
    '../../llava-detseg_clip-tiny_llama-tiny_1xb16-7e_shapes_text-grounded-'
    '1perimg_vqa-context.py'
]

_pipeline = _base_.train_pipeline
_at = [t['type'] for t in _pipeline].index('SampleConversations') + 1
train_pipeline = _pipeline[:_at] + [dict(type='MergeConversations')] + \
    _pipeline[_at:]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
