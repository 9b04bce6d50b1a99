# Ablation: the make demo config (grounded VQA, layers 1 and -2) with
# region features through the tanh gate (language.region_features=True).
# The gate stayed near 0 (tanh(gate) = -0.02 after 7 epochs): the region
# features hardly reach the language model (README, "Grounded VQA").
_base_ = [
    '../../llava-detseg_clip-tiny_llama-tiny_1xb16-7e_shapes_text-grounded-'
    '1perimg_vqa-context.py'
]

model = dict(language=dict(region_features=True))
