# LoRA recipe, stage 1 (segmentation): from the detection stage, train the
# segmentation decoder and its Conv-LoRA only (the neck stays as the
# detection stage left it, so the FCOS head keeps its inputs). mmseg's Dice
# and Lovasz losses join the cross-entropy.
_base_ = './llava-detseg_clip-tiny_llama-tiny_lora_stage1-det_shapes.py'

load_from = 'work_dirs/lora_stage1-det/epoch_1.pth'
task = 'seg'
# one epoch from here on (stage 2 and 3 inherit it): the CPU budget
max_epochs = 1

model = dict(
    adapters=dict(train_adapters=('seg', ), train_modules=('seg_head', )),
    seg_head=dict(loss_decode=[
        dict(type='mmseg.CrossEntropyLoss', use_sigmoid=False,
             loss_weight=1.0),
        dict(type='mmseg.DiceLoss', use_sigmoid=False, loss_weight=0.5),
        dict(type='mmseg.LovaszLoss', loss_type='multi_class',
             per_image=False, reduction='none', loss_weight=0.5),
    ]))
train_dataloader = dict(dataset=dict(tasks=(task, )))

train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs + 1)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=5),
    dict(type='CosineAnnealingLR', by_epoch=True, begin=0, end=max_epochs,
         T_max=max_epochs, eta_min_ratio=0.01, convert_to_iter_based=True),
]
