# LLaVA-DetSeg at full scale: CLIP ViT-L/14-336 (taps 6/12/18/24) + the
# LLaVA-1.5-7B language branch (mlp2x_gelu projector + Vicuna-7B), FCOS on
# COCO's 80 classes at strides 8..128, an FCN head on ADE20K's 150 classes,
# VQA on LLaVA-Instruct-150K; 8 GPUs x 4 images, 12 epochs, bf16, gradient
# checkpointing.
#   tools/dist_train.sh configs/llava_detseg.py 8
#   NNODES=2 NODE_RANK=0 MASTER_ADDR=10.0.0.1 tools/dist_train.sh ... 8
#   tools/slurm_train.sh PARTITION JOB configs/llava_detseg.py WORK_DIR
# Data layout: data/README.md. Ablations: configs/ablations/README.md.
_base_ = [
    './_base_/models/llava-detseg_clip-l14-336_vicuna-7b.py',
    './_base_/datasets/coco-ade-llava_mixture.py',
    './_base_/schedules/schedule_adamw_cosine.py',
    './_base_/default_runtime.py',
    './_base_/models/lora_adapters.py',
]

# --------------------------------------------------------------- 1. settings
# LLaVA-1.5 keeps CLIP frozen, so the vision tower inside
# llava-hf/llava-1.5-7b-hf is openai/clip-vit-large-patch14-336; the
# backbone loads that and the language branch the projector + Vicuna.
clip_path = 'openai/clip-vit-large-patch14-336'
llava_path = 'llava-hf/llava-1.5-7b-hf'
num_gpus = 8
train_batch_size = 4  # per GPU: 8 x 4 = 32
max_epochs = 12
base_lr = 2e-4

# ------------------------------------------------------------------ 2. model
model = dict(
    # Per-task gates over the taps 6/12/18/24 and a shared / per-task /
    # top-2-of-4 pool of token experts, conditioned on the task and the
    # instruction (docs/router.md). The language branch keeps LLaVA-1.5's
    # pretrained mlp2x_gelu projector (LoRA-adapted below).
    router=dict(
        type='GatedFeatureRouter',
        num_levels=4,
        cond_dims=256,
        num_experts=4,
        top_k=2,
        expert_ratio=0.25,
        instructions=dict(
            det='Detect all objects.',
            seg='Segment the image.',
            vqa='Describe the image.'),
        loss_balance=dict(type='LoadBalanceLoss', mode='kl',
                          loss_weight=1e-2),
        loss_z=dict(type='RouterZLoss', loss_weight=1e-3)),
    # LoRA on CLIP q/k/v (shared) and the LLM q/k/v + projector (vqa),
    # Conv-LoRA on the heads (configs/_base_/models/lora_adapters.py); the
    # neck and the heads are new at this size and train in full.
    adapters=dict(
        groups=_base_.lora_adapters.groups,
        train_adapters=None,
        train_modules=('neck', 'det_head', 'seg_head'),
        l2_weight=0.0),
    backbone=dict(pretrained=clip_path),
    language=dict(pretrained=llava_path, torch_dtype='bfloat16'),
    # transformers' non-reentrant checkpointing in CLIP and the LLM
    gradient_checkpointing=True)

# ------------------------------------------------------------------- 3. data
# coco-ade-llava_mixture.py: sources, pipelines, ratios, evaluators.
train_dataloader = dict(
    batch_size=train_batch_size,
    sampler=dict(batch_size=train_batch_size))

# --------------------------------------------------------------- 4. schedule
train_cfg = dict(max_epochs=max_epochs, val_interval=1)
optim_wrapper = dict(
    type='AmpOptimWrapper',
    dtype='bfloat16',
    loss_scale='dynamic',
    optimizer=dict(lr=base_lr))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0,
         end=1000),
    dict(type='CosineAnnealingLR', by_epoch=True, begin=0, end=max_epochs,
         T_max=max_epochs, eta_min_ratio=0.01, convert_to_iter_based=True),
]
# tools/train.py --auto-scale-lr: lr x (GPUs x per-GPU batch) / 32
auto_scale_lr = dict(enable=False, base_batch_size=num_gpus * 4)

# ---------------------------------------------------------------- 5. runtime
# A batch of one source leaves the other tasks' branches without gradient.
model_wrapper_cfg = dict(find_unused_parameters=True)
default_hooks = dict(logger=dict(interval=50))
