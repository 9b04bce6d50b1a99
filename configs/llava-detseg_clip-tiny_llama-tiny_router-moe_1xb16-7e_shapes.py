# The embedded default with the gated feature router: per-task gates over
# the four tapped ViT layers, a shared expert, one expert per task and a pool
# of 4 experts picked top-2 per token, conditioned on the task and the
# instruction; the language branch reads through an MoE projector.
_base_ = './llava-detseg_clip-tiny_llama-tiny_1xb16-7e_shapes.py'

# ---------------------------------------------------------------- settings
num_experts = 4
top_k = 2

# ------------------------------------------------------------------- model
model = dict(
    router=dict(
        type='GatedFeatureRouter',
        in_layers=(1, 2, 3, 4),  # hidden-state indices mixed (every layer)
        num_levels=_base_.num_levels,  # the SimplePyramid's inputs
        cond_dims=64,
        layer_gate='learned',
        shared_expert=True,
        task_experts=True,
        num_experts=num_experts,
        top_k=top_k,
        noise_std=1.0,
        expert_ratio=1.0,
        instructions=dict(
            det='Detect all objects.',
            seg='Segment the image.',
            vqa='Describe the image.'),
        loss_balance=dict(type='LoadBalanceLoss', mode='kl',
                          loss_weight=0.1),
        loss_z=dict(type='RouterZLoss', loss_weight=1e-3),
        layer_selector=None),
    language=dict(
        projector=dict(
            type='moe',
            num_experts=num_experts,
            top_k=top_k,
            noise_std=1.0,
            load_pretrained=True,
            loss_balance=dict(type='LoadBalanceLoss', mode='kl',
                              loss_weight=0.1),
            loss_z=dict(type='RouterZLoss', loss_weight=1e-3))))

# ----------------------------------------------------------------- runtime
# An expert that no token chose in a batch gets no gradient; DDP must expect
# that (single-process runs are not wrapped and do not care).
model_wrapper_cfg = dict(find_unused_parameters=True)
custom_hooks = [
    dict(type='EpochSeedHook'),
    dict(type='NonFiniteGuardHook', interval=1, check_grad_norm=True),
    dict(type='RouterStatsHook', interval=20),
]
