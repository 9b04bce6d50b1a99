# Ablation: the make demo config with a learned segment vector added to the
# tokens of the prompt's <DET> block (language.context_segment=True): a
# question's class name is the same token as the block's, and the 2-layer
# language model did not tell them apart (yes/no at chance: P(yes) 0.47-0.48
# whatever the block holds, teacher-forced on val).
# measured with an image's questions merged (the default's then)
_base_ = ['./merged-conversations.py']

model = dict(language=dict(context_segment=True))
