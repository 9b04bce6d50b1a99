# Adaptive layer selection feeding a projection specific to the selected
# layer (adaptive_moe projector).
_base_ = './router_layer-select.py'

model = dict(
    language=dict(
        projector=dict(type='adaptive_moe', num_layers=4,
                       load_pretrained=True, _delete_=True)))

# a batch trains only the projections of the layers it selected
model_wrapper_cfg = dict(find_unused_parameters=True)
