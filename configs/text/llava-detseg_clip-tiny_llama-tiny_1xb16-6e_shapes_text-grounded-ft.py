# Text targets on top of the embedded default: fine-tune the `make demo`
# checkpoint (grown by the <DET>/<SEG>/<loc_i> rows with
# tools/model_converters/add_text_tokens.py; `make text-demo` does both) on
# grounded text instructions next to the three task losses, so the heads and
# VQA keep training while the language model learns to select and copy the
# heads' results. Scored by tools/test.py: head mAP / mIoU beside text-mAP /
# text-mIoU, parse failures, "only {class}" purity and head<->text agreement.
_base_ = [
    '../llava-detseg_clip-tiny_llama-tiny_1xb16-7e_shapes_text-grounded.py'  # noqa: E501
]

load_from = 'work_dirs/demo/epoch_7.pth'
max_epochs = 6
base_lr = 5e-4

train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
optim_wrapper = dict(optimizer=dict(lr=base_lr))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0,
         end=50),
    dict(type='CosineAnnealingLR', by_epoch=True, begin=0, end=max_epochs,
         T_max=max_epochs, eta_min_ratio=0.01, convert_to_iter_based=True),
]
