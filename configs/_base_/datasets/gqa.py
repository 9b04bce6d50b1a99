# GQA balanced test-dev (testdev_balanced_questions.json), exact match after
# the VQA normalisation; see vqav2.py for how a config uses it.
gqa_test = dict(
    type='GQADataset',
    data_root='data/gqa/',
    ann_file='testdev_balanced_questions.json',
    data_prefix=dict(img='images/'))
gqa_evaluator = dict(
    type='TaskMetric', task='vqa', benchmark='gqa',
    metric=dict(type='VQAMetric', prefix='gqa', answer_types=False))
