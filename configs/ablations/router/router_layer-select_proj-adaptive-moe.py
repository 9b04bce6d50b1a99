# Adaptive layer selection feeding a projection specific to the selected
# layer (adaptive_moe projector).
_base_ = './router_layer-select.py'

model = dict(
    language=dict(
        projector=dict(type='adaptive_moe', num_layers=4,
                       load_pretrained=True, _delete_=True)))
