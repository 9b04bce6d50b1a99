# VQAv2 val (questions + annotations JSON, 10 answers per question), scored
# with the official accuracy. A config adds the pipeline of its model:
#   test_dataloader = dict(dataset=dict(_base_.vqav2_test, pipeline=...))
#   test_evaluator = [_base_.vqav2_evaluator]
# configs/benchmarks/ assembles every benchmark this way.
vqav2_test = dict(
    type='VQAv2Dataset',
    data_root='data/vqav2/',
    ann_file='v2_OpenEnded_mscoco_val2014_questions.json',
    answer_file='v2_mscoco_val2014_annotations.json',
    data_prefix=dict(img='val2014/'))
vqav2_evaluator = dict(
    type='TaskMetric', task='vqa', benchmark='vqav2',
    metric=dict(type='VQAMetric', prefix='vqav2'))
