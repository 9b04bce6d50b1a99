# VizWiz-VQA val (val.json, 10 answers per question, "unanswerable"
# included), scored with the VQAv2 accuracy; see vqav2.py.
vizwiz_test = dict(
    type='VizWizDataset',
    data_root='data/vizwiz/',
    ann_file='val.json',
    data_prefix=dict(img='val/'))
vizwiz_evaluator = dict(
    type='TaskMetric', task='vqa', benchmark='vizwiz',
    metric=dict(type='VQAMetric', prefix='vizwiz'))
