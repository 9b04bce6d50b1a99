# LoRA / Conv-LoRA adapter groups of LLaVA-DetSeg (the same module names at
# every size). Configs take it as
# `model = dict(adapters=_base_.lora_adapters)`.
# Groups: `shared` lives in the trunk (every task's loss reaches it), a task's
# group in that task's branch only (gradient isolation, see TaskAdapters).
lora_adapters = dict(
    groups=dict(
        shared=[
            # CLIP attention q/k/v
            dict(part='backbone.vit', r=8, lora_alpha=32, lora_dropout=0.0,
                 target_modules=['q_proj', 'k_proj', 'v_proj']),
        ],
        vqa=[
            # LLaMA attention q/k/v
            dict(part='language.llava.model.language_model', r=16,
                 lora_alpha=64, lora_dropout=0.0,
                 target_modules=['q_proj', 'k_proj', 'v_proj']),
            # the mlp2x_gelu projector
            dict(part='language.llava.model.multi_modal_projector', r=16,
                 lora_alpha=64, lora_dropout=0.0,
                 target_modules=['linear_1', 'linear_2']),
        ],
        det=[
            # Conv-LoRA on every conv of the FCOS head
            dict(part='det_head', r=4, lora_alpha=4, lora_dropout=0.0,
                 target_types=['Conv2d']),
        ],
        seg=[
            # Conv-LoRA on every conv of the segmentation decoder
            dict(part='seg_head', r=4, lora_alpha=4, lora_dropout=0.0,
                 target_types=['Conv2d']),
        ],
    ),
    # every group trains, no base weight does (stage 2 / 3)
    train_adapters=None,
    train_modules=(),
    l2_weight=0.0)
