# Ablation: the make demo config (no <DET> block in front of the
# questions) with the projector reading ViT layers 1 and -2 concatenated
# (language.vision_feature_layer=[1, -2]; a new 2 x 128-wide projector).
_base_ = [
    '../../llava-detseg_clip-tiny_llama-tiny_1xb16-7e_shapes_text-grounded-'
    '1perimg.py'
]

model = dict(
    language=dict(
        vision_feature_layer=[1, -2],
        projector=dict(type='mlp2x_gelu', load_pretrained=False)))
