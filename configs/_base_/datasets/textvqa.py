# TextVQA val (TextVQA_0.5.1_val.json, 10 answers per question), scored
# with the VQAv2 accuracy; see vqav2.py for how a config uses it.
textvqa_test = dict(
    type='TextVQADataset',
    data_root='data/textvqa/',
    ann_file='TextVQA_0.5.1_val.json',
    data_prefix=dict(img='train_images/'))
textvqa_evaluator = dict(
    type='TaskMetric', task='vqa', benchmark='textvqa',
    metric=dict(type='VQAMetric', prefix='textvqa', answer_types=False))
