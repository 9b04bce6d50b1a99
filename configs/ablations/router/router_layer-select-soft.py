# Adaptive layer selection with soft mixing of the candidate layers.
_base_ = './router_layer-select.py'

model = dict(router=dict(layer_selector=dict(mode='soft')))
