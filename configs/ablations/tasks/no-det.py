# Tasks on/off: train and evaluate only ['seg', 'vqa'] (the other branches
# are not built; sources serving no kept task are not loaded).
_base_ = ['../../llava_detseg.py']

tasks = ['seg', 'vqa']
model = dict(det_head=None)
train_dataloader = dict(dataset=dict(tasks=tasks))
val_dataloader = dict(dataset=dict(tasks=tasks))
test_dataloader = dict(dataset=dict(tasks=tasks))
