# Ablation: the make demo config (grounded VQA, layers 1 and -2) with
# region features through the tanh gate (language.region_features=True).
# The gate stayed near 0 (tanh(gate) = -0.02 after 7 epochs): the region
# features hardly reach the language model (README, "Grounded VQA").
# measured with an image's questions merged (the default's then)
_base_ = ['./merged-conversations.py']

model = dict(language=dict(region_features=True))
