"""Every config under configs/ parses and builds its model.

Full-size configs build inside ``meta_build()`` (no weights, no network);
tiny ones build for real from the session's tiny checkpoints. Each model's
pyramid is checked to sit at the detection head's strides, and every
dataset, transform, sampler and metric type the config names must resolve.
"""
import os.path as osp

import pytest
import torch
from mmengine.config import Config

from conftest import CONFIGS, ROOT
from llava_detseg.registry import (DATA_SAMPLERS, DATASETS, METRICS, MODELS,
                                   TRANSFORMS)
from llava_detseg.utils import meta_build, register_all_modules

TINY_PREFIX = 'data/checkpoints/'


def test_configs_are_found():
    assert 'configs/llava_detseg.py' in CONFIGS
    assert any(c.startswith('configs/ablations/') for c in CONFIGS)


FULL_WIDTH = {
    'data/checkpoints/clip-vit-l14-336-random':
    'openai/clip-vit-large-patch14-336',
    'data/checkpoints/llava-7b-width-2layer-random': 'llava-hf/llava-1.5-7b-hf',
}


def _is_tiny(cfg) -> bool:
    return cfg.model.backbone.pretrained.startswith(TINY_PREFIX) and \
        cfg.model.backbone.pretrained not in FULL_WIDTH


def _registry_get(registry, type_):
    if isinstance(type_, str) and '.' in type_:
        scope, name = type_.split('.', 1)
        return registry.get(name) if scope == 'llava_detseg' else \
            registry.get(type_)
    return registry.get(type_)


def _check_types(cfg) -> None:
    def dataset(d, where):
        if d is None:
            return
        assert _registry_get(DATASETS, d['type']), f'{where}: {d["type"]}'
        parts = d.get('datasets')
        if parts is not None:
            items = parts.items() if isinstance(parts, dict) else \
                enumerate(parts)
            for name, part in items:
                dataset(part, f'{where}.datasets.{name}')
        for k, t in enumerate(d.get('pipeline', [])):
            assert _registry_get(TRANSFORMS, t['type']), \
                f'{where}.pipeline[{k}]: {t["type"]}'

    # model-only configs (configs/lora/*_vicuna-7b_*) have no data
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        if loader not in cfg:
            continue
        dataset(cfg[loader]['dataset'], f'{loader}.dataset')
        sampler = cfg[loader]['sampler']['type']
        assert _registry_get(DATA_SAMPLERS, sampler), f'{loader}: {sampler}'
    for evaluator in (cfg.get('val_evaluator', []),
                      cfg.get('test_evaluator', [])):
        for m in (evaluator if isinstance(evaluator, list) else [evaluator]):
            assert _registry_get(METRICS, m['type']), m['type']
            if 'metric' in m:
                assert _registry_get(METRICS, m['metric']['type']), \
                    m['metric']['type']


@pytest.mark.parametrize('path', CONFIGS)
def test_config_builds_its_model(path, tiny_ckpt):
    register_all_modules()
    cfg = Config.fromfile(osp.join(ROOT, path))
    _check_types(cfg)
    distiller = cfg.model.get('distiller')
    if distiller and not osp.isfile(distiller.get('teacher_ckpt', '')):
        # its teacher is the checkpoint of an earlier stage's run
        cfg.model.distiller = None
    if _is_tiny(cfg):
        cfg.model.backbone.pretrained = tiny_ckpt['clip']
        cfg.model.language.pretrained = tiny_ckpt['llava']
        model = MODELS.build(cfg.model)
        device = 'cpu'
    else:
        # the full-width twin's random folders are written on demand (80 s,
        # 3 GB; tests/tools/test_full_width_twin.py builds them for real):
        # here the same architectures from the bundled hub configs
        for part in ('backbone', 'language'):
            if cfg.model.get(part):
                path = cfg.model[part].pretrained
                cfg.model[part].pretrained = FULL_WIDTH.get(path, path)
        with meta_build():
            model = MODELS.build(cfg.model)
        assert {p.device.type for p in model.parameters()} == {'meta'}
        device = 'meta'
        # bf16 weights meet fp32 heads under --amp autocast; on meta, where
        # nothing is allocated, casting all to fp32 checks the shapes alone
        model.float()
    for task, head in (('det', 'det_head'), ('seg', 'seg_head'),
                       ('vqa', 'language')):
        assert (task in model.tasks) == (cfg.model.get(head) is not None)
    if model.det_head is None:
        return
    # the pyramid really is at the head's strides for a padded input
    div = cfg.model.data_preprocessor.pad_size_divisor
    h, w = 2 * div, 3 * div
    with torch.no_grad():
        feats, vit = model.extract_feat(
            torch.zeros(1, 3, h, w, device=device))
        # with a router the neck runs per task, on maps of the same size;
        # its top-k dispatch is data-dependent and cannot run on meta
        if device != 'meta':
            feats = model._task_feats('det', feats, vit, [0], None)
        elif feats is None:
            feats = model.neck(vit.maps)
    strides = [(h / f.shape[-2], w / f.shape[-1]) for f in feats]
    assert strides == [tuple(float(v) for v in s)
                       for s in model.det_head.prior_generator.strides]


def test_full_config_is_what_the_issue_asks():
    cfg = Config.fromfile(osp.join(ROOT, 'configs', 'llava_detseg.py'))
    m = cfg.model
    assert m.backbone.pretrained == 'openai/clip-vit-large-patch14-336'
    assert m.language.pretrained == 'llava-hf/llava-1.5-7b-hf'
    assert m.backbone.out_indices == (6, 12, 18, 24)
    assert m.det_head.num_classes == 80 and m.seg_head.num_classes == 150
    assert m.det_head.strides == [8, 16, 32, 64, 128]
    assert m.gradient_checkpointing
    assert m.router.type == 'GatedFeatureRouter'
    assert set(m.adapters.groups) == {'shared', 'det', 'seg', 'vqa'}
    assert cfg.optim_wrapper.type == 'AmpOptimWrapper'
    assert cfg.optim_wrapper.dtype == 'bfloat16'
    assert cfg.train_dataloader.batch_size == 4
    assert cfg.train_dataloader.sampler.batch_size == 4
    assert cfg.auto_scale_lr.base_batch_size == 32


def test_deepspeed_config_names_its_missing_package():
    import importlib.util
    from llava_detseg.utils.runner import (RunnerConfigError,
                                           check_runner_config)
    path = [c for c in CONFIGS if 'deepspeed' in c][0]
    cfg = Config.fromfile(osp.join(ROOT, path))
    assert cfg.runner_type == 'FlexibleRunner'
    assert cfg.strategy.type == 'DeepSpeedStrategy'
    assert cfg.strategy.zero_optimization.stage == 2
    if importlib.util.find_spec('deepspeed') is not None:
        check_runner_config(cfg)
        return
    with pytest.raises(RunnerConfigError,
                       match='strategy.type="DeepSpeedStrategy" needs the '
                       '"deepspeed" package'):
        check_runner_config(cfg)
    cfg.runner_type = 'Runner'
    with pytest.raises(RunnerConfigError, match='runner_type="FlexibleRunner'):
        check_runner_config(cfg)
