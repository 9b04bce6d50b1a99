# Control for stage3-distill-lowvqa: the same without distillation.
_base_ = './llava-detseg_clip-tiny_llama-tiny_lora_stage3-distill-lowvqa_shapes.py'

model = dict(distiller=None)
