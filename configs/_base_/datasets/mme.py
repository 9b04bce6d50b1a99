# MME (MME_Benchmark_release_version/, one folder per subtask): acc, acc+
# and score per subtask, perception and cognition sums; see vqav2.py.
mme_test = dict(
    type='MMEDataset',
    data_root='data/MME_Benchmark_release_version/')
mme_evaluator = dict(
    type='TaskMetric', task='vqa', benchmark='mme',
    metric=dict(type='MMEMetric'))
