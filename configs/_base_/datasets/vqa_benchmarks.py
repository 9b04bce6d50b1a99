# LLaVA-1.5's VQA benchmarks, each in its published format (one file each
# beside this one): named sources for MultiTaskConcatDataset and their
# evaluators. A config gives them its model's test pipeline (without
# annotation loading: the benchmarks have no boxes or masks), e.g.
#   dict(d, pipeline=benchmark_pipeline) for d in vqa_benchmarks.values()
# (configs/benchmarks/). Leave one out with `vqa_benchmarks.<name>=None`.
_base_ = [
    './vqav2.py', './gqa.py', './vizwiz.py', './textvqa.py',
    './scienceqa_img.py', './pope.py', './mme.py'
]
vqa_benchmarks = dict(
    vqav2=_base_.vqav2_test,
    gqa=_base_.gqa_test,
    vizwiz=_base_.vizwiz_test,
    textvqa=_base_.textvqa_test,
    scienceqa=_base_.scienceqa_test,
    pope=_base_.pope_test,
    mme=_base_.mme_test)
vqa_benchmark_evaluators = [
    _base_.vqav2_evaluator, _base_.gqa_evaluator, _base_.vizwiz_evaluator,
    _base_.textvqa_evaluator, _base_.scienceqa_evaluator,
    _base_.pope_evaluator, _base_.mme_evaluator
]
