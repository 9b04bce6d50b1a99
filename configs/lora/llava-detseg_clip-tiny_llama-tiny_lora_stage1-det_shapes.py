# LoRA recipe, stage 1 (detection): start from the VQA reference (the
# stand-in for LLaVA-1.5 on the tiny model), freeze the whole trunk and the
# language branch, train the new neck + FCOS head and the det adapters only.
#   python tools/train.py \
#       configs/lora/llava_clip-tiny_llama-tiny_1xb16-2e_shapes-vqa.py \
#       --work-dir work_dirs/lora_ref
#   python tools/train.py THIS_FILE --work-dir work_dirs/lora_stage1-det
_base_ = [
    '../llava-detseg_clip-tiny_llama-tiny_1xb16-7e_shapes.py',
    '../_base_/models/lora_adapters.py',
]

# ---------------------------------------------------------------- settings
load_from = 'work_dirs/lora_ref/epoch_2.pth'
task = 'det'
num_train = 480  # a subset of the 2000 training images: minutes on a CPU
max_epochs = 1
base_lr = 1e-3

# ------------------------------------------------------------------- model
model = dict(
    adapters=dict(
        _base_.lora_adapters,
        train_adapters=('det', ),
        train_modules=('neck', 'det_head')))

# -------------------------------------------------------------------- data
train_dataloader = dict(
    dataset=dict(tasks=(task, ), indices=num_train))

# ---------------------------------------------------------------- schedule
# validation by tools/test.py after the stage (all tasks, forgetting)
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs + 1)
optim_wrapper = dict(optimizer=dict(lr=base_lr))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0,
         end=20),
    dict(type='CosineAnnealingLR', by_epoch=True, begin=0, end=max_epochs,
         T_max=max_epochs, eta_min_ratio=0.01, convert_to_iter_based=True),
]
default_hooks = dict(checkpoint=dict(max_keep_ckpts=1))
