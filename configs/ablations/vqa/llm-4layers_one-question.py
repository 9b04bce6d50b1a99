# Ablation: the make demo config (every question its own conversation) with
# a 4-layer language model (run `python tools/model_converters/
# make_tiny_llava.py --out-dir data/checkpoints --text-layers 4` first: it
# writes llava-tiny-4layers/). The 2-layer model underfits colour and
# yes/no (its answers on training images are as often wrong as on val),
# while the tokens under each box hold the colour
# (tools/analysis_tools/attribute_probe.py: 0.987): does depth let it bind a
# block item's name to the colour under its box?
_base_ = [
    '../../llava-detseg_clip-tiny_llama-tiny_1xb16-7e_shapes_text-grounded-'
    '1perimg_vqa-context.py'
]

model = dict(
    language=dict(pretrained=_base_.checkpoint_root + 'llava-tiny-4layers'))
