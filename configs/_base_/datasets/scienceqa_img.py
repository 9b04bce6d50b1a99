# ScienceQA-IMG test (problems.json + pid_splits.json, the problems with an
# image), scored by the option letter; see vqav2.py.
scienceqa_test = dict(
    type='ScienceQADataset',
    data_root='data/scienceqa/',
    ann_file='problems.json',
    split_file='pid_splits.json',
    split='test',
    data_prefix=dict(img='images/'))
scienceqa_evaluator = dict(
    type='TaskMetric', task='vqa', benchmark='scienceqa',
    metric=dict(type='ScienceQAMetric'))
