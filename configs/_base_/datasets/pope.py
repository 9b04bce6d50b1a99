# POPE on COCO val2014 (coco_pope_{random,popular,adversarial}.json):
# accuracy, precision, recall, F1 and yes-ratio per split; see vqav2.py.
pope_test = dict(
    type='POPEDataset',
    data_root='data/pope/',
    ann_files=dict(random='coco_pope_random.json',
                   popular='coco_pope_popular.json',
                   adversarial='coco_pope_adversarial.json'),
    data_prefix=dict(img='../coco/val2014/'))
pope_evaluator = dict(
    type='TaskMetric', task='vqa', benchmark='pope',
    metric=dict(type='POPEMetric'))
