# Control for stage 3: the same schedule from the same checkpoint without
# distillation, to measure what distillation saves.
_base_ = './llava-detseg_clip-tiny_llama-tiny_lora_stage3-distill_shapes.py'

model = dict(distiller=None)
