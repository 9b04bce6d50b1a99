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
