# LoRA recipe, stage 1 (segmentation): from the detection stage, train the
# segmentation decoder and its Conv-LoRA only (the neck stays as the
# detection stage left it, so the FCOS head keeps its inputs). mmseg's Dice
# and Lovasz losses join the cross-entropy.
_base_ = './llava-detseg_clip-tiny_llama-tiny_lora_stage1-det_shapes.py'

load_from = 'work_dirs/lora_stage1-det/epoch_2.pth'
task = 'seg'

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
