# Memory options for GPU users on the full-size LoRA model: a 4-bit NF4
# language model (QLoRA, bitsandbytes; stops at start without CUDA),
# bf16 weights elsewhere, gradient checkpointing in CLIP and the LLM.
# Train with `tools/train.py ... --amp` for bf16 autocast.
_base_ = './llava-detseg_clip-l14-336_vicuna-7b_lora.py'

model = dict(
    backbone=dict(torch_dtype='bfloat16'),
    language=dict(quantization='4bit', torch_dtype='bfloat16'),
    gradient_checkpointing=True)
