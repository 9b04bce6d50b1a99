# Ablation: the make demo config with a 4-layer language model (run
# `python tools/model_converters/make_tiny_llava.py --out-dir
# data/checkpoints --text-layers 4` first: it writes llava-tiny-4layers/).
# vqa-context_llm-4layers.py is the same on ViT layer -2 alone.
# Shapes val / seed 7: VQA 0.615 / 0.636 against the default's 0.642 /
# 0.647 (README, "Grounded VQA").
# measured with an image's questions merged (the default's then)
_base_ = ['./merged-conversations.py']

model = dict(
    language=dict(pretrained=_base_.checkpoint_root + 'llava-tiny-4layers'))
