# The full-size model (CLIP ViT-L/14-336 + Vicuna-7B) with the LoRA /
# Conv-LoRA adapters of stage 2: what the trainable-parameter budget is
# measured on, without downloading anything:
#   python tools/analysis_tools/count_params.py THIS_FILE --meta
_base_ = [
    '../_base_/models/llava-detseg_clip-l14-336_vicuna-7b.py',
    '../_base_/models/lora_adapters.py',
]
model = dict(adapters=_base_.lora_adapters)
