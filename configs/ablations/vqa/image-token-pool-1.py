# Ablation: the make demo config with every one of the ViT's 16 x 16 tokens
# in front of the language model (language.image_token_pool=1) instead of
# their 2 x 2 means (64 tokens): whether the pooling loses what colour
# questions need, at four times the image tokens of each conversation.
_base_ = [
    '../../llava-detseg_clip-tiny_llama-tiny_1xb16-7e_shapes_text-grounded-'
    '1perimg_vqa-context.py'
]

model = dict(language=dict(image_token_pool=1))
