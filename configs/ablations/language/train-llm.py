# The language model trains too (full fine-tuning of Vicuna-7B; pair it with
# the DeepSpeed ZeRO-2 config for memory).
_base_ = ['../../llava_detseg.py']

model = dict(language=dict(freeze_llm=False))
