# The full model on its test sets and LLaVA-1.5's VQA benchmarks in one run:
# COCO bbox mAP, ADE20K mIoU and boundary F1, the held-out LLaVA-Instruct
# conversations' answer loss, and VQAv2 / GQA / VizWiz / TextVQA /
# ScienceQA-IMG / POPE / MME, ending with one summary table; with
# `--reference-checkpoint` (e.g. LLaVA-1.5 before the detection and
# segmentation stages) the forgetting per benchmark:
#   tools/dist_test.sh configs/benchmarks/<this>.py CKPT 8 \
#       --reference-checkpoint REF.pth --out-json summary.json
# data/README.md gives each benchmark's tree.
_base_ = [
    '../llava-detseg_clip-l14-336_vicuna-7b_8xb4-12e_coco-ade-llava.py',
    '../_base_/datasets/vqa_benchmarks.py'
]

benchmark_pipeline = _base_.llava_test_pipeline
test_dataloader = dict(
    dataset=dict(
        datasets=dict(
            coco=_base_.coco_val,
            ade=_base_.ade_val,
            llava=_base_.llava_val,
            **{name: dict(d, pipeline=benchmark_pipeline)
               for name, d in _base_.vqa_benchmarks.items()})))
test_evaluator = _base_.val_evaluator + _base_.vqa_benchmark_evaluators
