# Projector frozen at its LLaVA-1.5 weights (the language branch only reads
# the shared backbone; nothing of it trains).
_base_ = ['../../llava_detseg.py']

model = dict(language=dict(freeze_projector=True))
