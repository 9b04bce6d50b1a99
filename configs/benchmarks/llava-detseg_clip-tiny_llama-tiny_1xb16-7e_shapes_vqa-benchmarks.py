# The embedded default (`make demo`'s config) on the shapes val set and the
# VQA benchmarks in one run, e.g. on small files in the published formats
# (the tests write them; point data_root at yours):
#   python tools/test.py configs/benchmarks/<this>.py CKPT \
#       --cfg-options test_dataloader.dataset.datasets.gqa.data_root=...
# A benchmark left out: test_dataloader.dataset.datasets.<name>=None.
_base_ = [
    '../llava-detseg_clip-tiny_llama-tiny_1xb16-7e_shapes_text-grounded-1perimg_vqa-context.py',  # noqa: E501
    '../_base_/datasets/vqa_benchmarks.py'
]

# the shapes images' preprocessing; no annotations, no text instructions
benchmark_pipeline = [
    dict(type='LoadImageWithCheck'),
    dict(type='mmdet.Resize', scale=_base_.img_scale, keep_ratio=False),
    dict(type='PackMultiTaskInputs'),
]
test_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='MultiTaskConcatDataset',
        datasets=dict(
            shapes=_base_.val_dataloader.dataset,
            **{name: dict(d, pipeline=benchmark_pipeline)
               for name, d in _base_.vqa_benchmarks.items()})))
test_evaluator = _base_.val_evaluator + _base_.vqa_benchmark_evaluators
