"""Feature combinations that cannot run right are refused in one line
naming the config keys; every shipped config passes."""
import os.path as osp

import pytest
import torch
from mmengine.config import Config

from conftest import CONFIGS, ROOT
from llava_detseg.utils.config_checks import check_combinations
from llava_detseg.utils.runner import RunnerConfigError



@pytest.mark.parametrize('path', CONFIGS)
def test_every_config_passes(path):
    cfg = Config.fromfile(osp.join(ROOT, path))
    check_combinations(cfg)


def _cfg(**kwargs):
    cfg = Config(dict(optim_wrapper=dict(type='OptimWrapper'),
                      launcher='none'))
    cfg.merge_from_dict(kwargs)
    return cfg


@pytest.mark.parametrize('kind', ['PCGradOptimWrapper',
                                  'GradNormOptimWrapper'])
def test_per_task_gradients_refuse_a_distributed_launcher(kind):
    check_combinations(_cfg(optim_wrapper=dict(type=kind)))  # one process
    with pytest.raises(RunnerConfigError,
                       match=f'optim_wrapper.type="{kind}" with '
                       'launcher="pytorch"'):
        check_combinations(_cfg(optim_wrapper=dict(type=kind),
                                launcher='pytorch'))


def test_mixture_sampler_needs_the_loaders_batch_size():
    ok = dict(batch_size=4, sampler=dict(type='MixtureSampler', batch_size=4))
    check_combinations(_cfg(train_dataloader=ok))
    bad = dict(batch_size=4, sampler=dict(type='MixtureSampler', batch_size=2))
    with pytest.raises(RunnerConfigError,
                       match=r'train_dataloader.sampler.batch_size=2 differs '
                       r'from train_dataloader.batch_size=4'):
        check_combinations(_cfg(train_dataloader=bad))


def test_text_metric_threshold_must_be_the_context_threshold():
    model = dict(text_cfg=dict(context_score_thr=0.1))
    good = [dict(type='TextDetSegMetric', head_score_thr=0.1)]
    check_combinations(_cfg(model=model, val_evaluator=good))
    bad = [dict(type='TaskMetric'),
           dict(type='TextDetSegMetric', head_score_thr=0.3)]
    with pytest.raises(RunnerConfigError,
                       match=r'test_evaluator\[1\].head_score_thr=0.3 '
                       r'differs from model.text_cfg.context_score_thr=0.1'):
        check_combinations(_cfg(model=model, test_evaluator=bad))
    # not stated in the metric: derived from the model's
    cfg = _cfg(model=model, test_evaluator=[dict(type='TextDetSegMetric')])
    check_combinations(cfg)
    assert cfg.test_evaluator[0].head_score_thr == 0.1


def _train_tool():
    import importlib.util
    import sys
    sys.path.insert(0, osp.join(ROOT, 'tools'))
    spec = importlib.util.spec_from_file_location(
        'train_tool', osp.join(ROOT, 'tools', 'train.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_amp_refuses_to_replace_another_optim_wrapper():
    setup_amp = _train_tool().setup_amp
    cfg = _cfg(optim_wrapper=dict(type='PCGradOptimWrapper', clip_grad=None))
    problem = setup_amp(cfg)
    assert 'optim_wrapper.type="PCGradOptimWrapper"' in problem
    assert cfg.optim_wrapper.type == 'PCGradOptimWrapper'  # untouched
    cfg = _cfg()
    assert setup_amp(cfg) is None
    expected = ('AmpOptimWrapper'
                if torch.cuda.is_available() else 'AutocastOptimWrapper')
    assert cfg.optim_wrapper.type == expected


def test_autocast_optim_wrapper_trains_fp32_weights_under_bf16():
    from mmengine.optim import build_optim_wrapper

    model = torch.nn.Linear(8, 4)
    before = model.weight.detach().clone()
    wrapper = build_optim_wrapper(model, dict(
        type='llava_detseg.AutocastOptimWrapper',
        optimizer=dict(type='SGD', lr=0.1)))
    with wrapper.optim_context(model):
        out = model(torch.randn(3, 8))
    assert out.dtype == torch.bfloat16  # the matmul ran in bf16
    wrapper.update_params(out.float().pow(2).mean())
    assert model.weight.dtype == torch.float32
    assert not torch.equal(model.weight, before)
    with pytest.raises(ValueError, match='optim_wrapper.dtype must be '
                       '"bfloat16", got \'float16\''):
        build_optim_wrapper(model, dict(
            type='llava_detseg.AutocastOptimWrapper', dtype='float16',
            optimizer=dict(type='SGD', lr=0.1)))


def test_text_format_is_read_as_it_is_written():
    model = dict(language=dict(special_tokens=dict(num_bins=1000)),
                 text_cfg=dict(context_score_thr=0.3,
                               codec=dict(max_boxes=20)))
    metric = [dict(type='TextDetSegMetric', codec=dict(max_boxes=20))]
    check_combinations(_cfg(model=model, val_evaluator=metric))
    with pytest.raises(RunnerConfigError,
                       match=r'val_evaluator\[0\].codec.max_boxes=100 '
                       r'differs from model.text_cfg.codec.max_boxes=20'):
        check_combinations(_cfg(model=model, val_evaluator=[
            dict(type='TextDetSegMetric')]))
    loader = dict(dataset=dict(type='MultiTaskConcatDataset', datasets=dict(
        coco=dict(pipeline=[dict(type='GenerateTextInstructions',
                                 codec=dict(num_bins=500))]))))
    with pytest.raises(RunnerConfigError,
                       match=r'train_dataloader.dataset.datasets.coco.'
                       r'pipeline\[0\].codec num_bins=500 differs'):
        check_combinations(_cfg(model=model, train_dataloader=loader))
    tokens = dict(model, language=dict(special_tokens=dict(num_bins=512)))
    with pytest.raises(RunnerConfigError,
                       match='model.language.special_tokens num_bins=512'):
        check_combinations(_cfg(model=tokens))


def test_sharded_engines_refuse_what_they_cannot_run():
    fsdp = dict(type='CompatFSDPStrategy', model_wrapper=dict(
        use_orig_params=True))
    check_combinations(_cfg(strategy=fsdp))
    with pytest.raises(RunnerConfigError,
                       match='strategy.model_wrapper.auto_wrap_policy is set'):
        check_combinations(_cfg(strategy=dict(
            fsdp, model_wrapper=dict(auto_wrap_policy=dict(
                type='size_based_auto_wrap_policy')))))
    with pytest.raises(RunnerConfigError,
                       match='optim_wrapper.type="PCGradOptimWrapper" with '
                       'strategy.type="CompatFSDPStrategy"'):
        check_combinations(_cfg(strategy=fsdp, optim_wrapper=dict(
            type='PCGradOptimWrapper')))


def test_metric_ann_file_must_follow_the_data_root():
    """Moving only the loader's data_root (the held-out splits of
    generate_shapes) would score the images against the old root's boxes:
    refused, naming the metric key to set with it."""
    cfg = Config.fromfile(osp.join(
        ROOT, 'configs/llava-detseg_clip-tiny_llama-tiny_1xb16-7e_shapes.py'))
    check_combinations(cfg)
    cfg.merge_from_dict({'test_dataloader.dataset.data_root': 'data/other/'})
    with pytest.raises(RunnerConfigError,
                       match=r'test_evaluator\.0\.metric\.ann_file=.*'
                       r'not under test_dataloader\.dataset\.data_root'):
        check_combinations(cfg)
    cfg.merge_from_dict({'test_evaluator.0.metric.ann_file':
                         'data/other/annotations/instances_val.json'})
    check_combinations(cfg)
