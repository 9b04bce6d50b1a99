# Ablation on the default: the grounded text instructions' noisy contexts
# (the annotated boxes among detector-like extras) are answered with the
# annotated boxes only (context_noise.answer='annotated'), so the language
# model learns which of the context's boxes to write instead of copying
# them all. Decoding still copies each class's boxes whole (the heads'
# recall is kept); each box's own score is the probability the model gave
# its tokens (text/lm_bbox_mAP: token_scores.item_scores), which is where a
# judged box and a copied one differ.
_base_ = [
    '../../llava-detseg_clip-tiny_llama-tiny_1xb16-9e_shapes_text-grounded-'
    '1perimg_vqa-context.py'
]

train_pipeline = [
    dict(t, context_noise=dict(t['context_noise'], answer='annotated'))
    if t['type'] == 'GenerateTextInstructions' else t
    for t in _base_.train_pipeline
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
