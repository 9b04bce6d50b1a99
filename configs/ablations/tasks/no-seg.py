# Tasks on/off: train and evaluate only ['det', 'vqa'] (the other branches
# are not built; sources serving no kept task are not loaded).
_base_ = ['../../llava_detseg.py']

tasks = ['det', 'vqa']
model = dict(seg_head=None)
train_dataloader = dict(dataset=dict(tasks=tasks))
val_dataloader = dict(dataset=dict(tasks=tasks))
test_dataloader = dict(dataset=dict(tasks=tasks))
