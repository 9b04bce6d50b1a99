# Ablation: the make demo config (grounded VQA, layers 1 and -2) with each
# prompt box's region feature as a token of its own after the box
# (language.region_features='token', GPT4RoI's placeholders): the names and
# boxes keep their embeddings, the region is read like an image token.
# measured with an image's questions merged (the default's then)
_base_ = ['./merged-conversations.py']

model = dict(language=dict(region_features='token'))
