# Ablation: the make demo config with every one of the ViT's 16 x 16 tokens
# in front of the language model (language.image_token_pool=1) instead of
# their 2 x 2 means (64 tokens): whether the pooling loses what colour
# questions need, at four times the image tokens of each conversation.
# Shapes val / seed 7: VQA 0.624 / 0.627, colour 0.628 / 0.615 (the default
# 0.555 / 0.577), yes/no 0.509 / 0.526 (0.574 / 0.574).
# measured with an image's questions merged (the default's then)
_base_ = ['./merged-conversations.py']

model = dict(language=dict(image_token_pool=1))
