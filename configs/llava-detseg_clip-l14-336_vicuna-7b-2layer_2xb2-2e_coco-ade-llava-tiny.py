# The full config at its real widths, small enough for a CPU: CLIP
# ViT-L/14-336 (1024 channels, taps 6/12/18/24, 576 image tokens for the
# language branch) and the Vicuna-7B width (4096 hidden, 32 heads, 11008 MLP,
# the 32064-row vocabulary, a SentencePiece LLaMA tokenizer) cut to 2
# decoder layers, random weights loaded through from_pretrained. The neck,
# heads (80 COCO / 150 ADE20K classes), router, adapters, text format,
# pipelines and input sizes are the full config's; the data is the tiny
# COCO + ADE20K + LLaVA tree in the full layout.
#   python tools/model_converters/make_tiny_llava.py --widths full
#   python tools/dataset_converters/make_tiny_samples.py --out-dir data/tiny
#   python tools/analysis_tools/benchmark.py CONFIG --iters 1 --warmup 0
# The tiny twin (..._clip-tiny_llama-tiny_2xb2-2e_coco-ade-llava-tiny.py)
# inherits this file and changes only the widths and the input sizes.
_base_ = ['./llava-detseg_clip-l14-336_vicuna-7b_8xb4-12e_coco-ade-llava.py']

# --------------------------------------------------------------- 1. settings
checkpoint_root = 'data/checkpoints/'
tiny_root = 'data/tiny/'
train_batch_size = 2
max_epochs = 2

# ------------------------------------------------------------------ 2. model
model = dict(
    backbone=dict(pretrained=checkpoint_root + 'clip-vit-l14-336-random'),
    language=dict(
        pretrained=checkpoint_root + 'llava-7b-width-2layer-random'))

# ------------------------------------------------------------------- 3. data
# The sources are named, so only what differs is written.
train_dataloader = dict(
    batch_size=train_batch_size,
    num_workers=0,
    persistent_workers=False,
    # 3 steps of 2 x 2 images per epoch: with the 2:1:2 ratios, one each
    sampler=dict(batch_size=train_batch_size, num_samples=12),
    dataset=dict(datasets=dict(
        coco=dict(data_root=tiny_root + 'coco/', filter_cfg=dict(min_size=0)),
        ade=dict(data_root=tiny_root + 'ade/ADEChallengeData2016/'),
        llava=dict(data_root=tiny_root))))
val_dataloader = dict(
    num_workers=0,
    persistent_workers=False,
    dataset=dict(datasets=dict(
        coco=dict(data_root=tiny_root + 'coco/'),
        ade=dict(data_root=tiny_root + 'ade/ADEChallengeData2016/'),
        llava=dict(data_root=tiny_root))))
test_dataloader = val_dataloader
val_evaluator = [
    dict(type='TaskMetric', task='det',
         metric=dict(type='DetCocoMetric',
                     ann_file=tiny_root +
                     'coco/annotations/instances_val2017.json',
                     metric='bbox', prefix='coco')),
    _base_.ade_evaluator,
    _base_.ade_bf1_evaluator,
    _base_.llava_evaluator,
]
test_evaluator = val_evaluator

# --------------------------------------------------------------- 4. schedule
# bf16 autocast as the full config, without AmpOptimWrapper's GPU-only
# loss scaler (bf16 needs none).
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
optim_wrapper = dict(
    _delete_=True,
    type='AutocastOptimWrapper',
    dtype='bfloat16',
    optimizer=dict(type='AdamW', lr=1e-3, weight_decay=0.05),
    clip_grad=dict(max_norm=1.0, norm_type=2))
param_scheduler = [
    dict(type='CosineAnnealingLR', by_epoch=True, begin=0, end=max_epochs,
         T_max=max_epochs, eta_min_ratio=0.01, convert_to_iter_based=True)
]
auto_scale_lr = dict(base_batch_size=2 * train_batch_size)

# ---------------------------------------------------------------- 5. runtime
default_hooks = dict(logger=dict(interval=1),
                     visualization=dict(interval=1))
