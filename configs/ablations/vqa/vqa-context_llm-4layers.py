# Ablation: grounded VQA (vqa-context.py) with a 4-layer language model
# instead of 2. Write its checkpoint first:
#   python tools/model_converters/make_tiny_llava.py --text-layers 4
# (data/checkpoints/llava-tiny-4layers/, beside the default's). Shapes val:
# VQA 0.629, yes/no 0.596, number 0.679, colour 0.585 (2 layers: 0.622,
# 0.554, 0.751, 0.463); seed 7: 0.664, 0.642, 0.694, 0.643; held-out:
# 0.633, 0.641, 0.633, 0.616. 1.89 CPU s a step on one thread against 1.27
# with 2 layers (README, "Grounded VQA").
_base_ = ['./vqa-context.py']

model = dict(language=dict(
    pretrained=_base_.checkpoint_root + 'llava-tiny-4layers'))
