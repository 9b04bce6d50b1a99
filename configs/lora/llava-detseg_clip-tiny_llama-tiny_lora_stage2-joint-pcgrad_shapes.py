# Stage 2 with gradient surgery (PCGrad) on the per-task gradients.
# One process only: every task's autograd.grad would all-reduce under DDP.
_base_ = './llava-detseg_clip-tiny_llama-tiny_lora_stage2-joint_shapes.py'

optim_wrapper = dict(type='PCGradOptimWrapper')
