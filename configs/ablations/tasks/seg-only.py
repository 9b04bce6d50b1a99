# Tasks on/off: train and evaluate only ['seg'] (the other branches
# are not built; sources serving no kept task are not loaded).
_base_ = ['../../llava_detseg.py']

tasks = ['seg']
model = dict(det_head=None, language=None)
train_dataloader = dict(dataset=dict(tasks=tasks))
val_dataloader = dict(dataset=dict(tasks=tasks))
test_dataloader = dict(dataset=dict(tasks=tasks))
