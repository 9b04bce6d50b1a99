# Stage 2 with GradNorm task weights (alpha 1.5, as in the paper).
# One process only: every task's autograd.grad would all-reduce under DDP.
_base_ = './llava-detseg_clip-tiny_llama-tiny_lora_stage2-joint_shapes.py'

optim_wrapper = dict(type='GradNormOptimWrapper', alpha=1.5, weight_lr=0.025)
