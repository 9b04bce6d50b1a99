# LoRA recipe, stage 2: joint multi-task training of the adapters only,
# total = l1 * VQA + l2 * Det + l3 * Seg (model.loss_weights), with an L2
# penalty on the adapters. Heads, neck and every pretrained weight frozen.
_base_ = './llava-detseg_clip-tiny_llama-tiny_lora_stage1-seg_shapes.py'

load_from = 'work_dirs/lora_stage1-seg/epoch_1.pth'

model = dict(
    adapters=dict(train_adapters=None, train_modules=(), l2_weight=1e-4),
    loss_weights=dict(vqa=1.0, det=1.0, seg=1.0))
train_dataloader = dict(dataset=dict(tasks=('det', 'seg', 'vqa')))
