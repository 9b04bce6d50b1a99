# Ablation: grounded VQA on the embedded default. Every question reads the
# det head's boxes (score >= 0.3) as a <DET> block after <image>; training
# puts the annotated boxes there (text_cfg.vqa_context). Counting is then
# asked as a question only: the text instruction "How many {plural} are
# there?" has the same prompt and answers "Answer: {n} <DET>...", so it
# leaves the text kinds (with it, text/count_acc fell to 0.33).
# 7 epochs, shapes val / seed 7 / held-out: VQA number 0.75 / 0.73 / 0.71
# against the default's 0.46 / 0.45 / 0.48; yes/no 0.55 / 0.56 / 0.57
# against 0.72 / 0.61 / 0.69 and colour 0.46 / 0.43 / 0.44 against
# 0.67 / 0.60 / 0.62 (README, "Grounded VQA").
_base_ = [
    '../../llava-detseg_clip-tiny_llama-tiny_1xb16-7e_shapes_text-grounded-'
    '1perimg.py'
]

text_kinds = ('det_all', 'det_class', 'seg_all', 'seg_class', 'compound',
              'where')
model = dict(text_cfg=dict(vqa_context=dict(score_thr=0.3)))
train_pipeline = _base_.train_pipeline[:-2] + [
    dict(_base_.train_pipeline[-2], kinds=text_kinds),
    _base_.train_pipeline[-1],
]
test_pipeline = _base_.test_pipeline[:-2] + [
    dict(_base_.test_pipeline[-2], kinds=text_kinds),
    _base_.test_pipeline[-1],
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
