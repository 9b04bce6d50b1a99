# Stage 2 with uncertainty weighting (Kendall et al.) instead of static l.
_base_ = './llava-detseg_clip-tiny_llama-tiny_lora_stage2-joint_shapes.py'

model = dict(loss_balancer=dict(type='UncertaintyWeighting',
                                tasks=('det', 'seg', 'vqa')))
