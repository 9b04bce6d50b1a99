# LoRA recipe, stage 3: stage 2 continued with distillation against
# forgetting: KL on the answer logits toward the same model with its
# adapters disabled (= the VQA reference: its weights were never trained
# since), and KL on the FCOS scores / mask logits toward the stage-1 teacher.
_base_ = './llava-detseg_clip-tiny_llama-tiny_lora_stage2-joint_shapes.py'

load_from = 'work_dirs/lora_stage2-joint/epoch_1.pth'

model = dict(
    distiller=dict(
        type='TaskDistiller',
        vqa_weight=1.0,
        det_weight=1.0,
        seg_weight=1.0,
        temperature=1.0,
        teacher_config='configs/lora/'
        'llava-detseg_clip-tiny_llama-tiny_lora_stage1-seg_shapes.py',
        teacher_ckpt='work_dirs/lora_stage1-seg/epoch_1.pth'))

# two epochs: distillation needs steps to show
max_epochs = 2
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs + 1)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=5),
    dict(type='CosineAnnealingLR', by_epoch=True, begin=0, end=max_epochs,
         T_max=max_epochs, eta_min_ratio=0.01, convert_to_iter_based=True),
]
