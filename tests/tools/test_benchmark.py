"""tools/analysis_tools/benchmark.py and compute_profile.py."""
import importlib.util
import json
import os.path as osp

import pytest
import torch
from torch import nn

from conftest import ROOT

TOOLS = osp.join(ROOT, 'tools', 'analysis_tools')


def _load(name: str):
    import sys
    if TOOLS not in sys.path:
        sys.path.insert(0, TOOLS)
    spec = importlib.util.spec_from_file_location(
        name, osp.join(TOOLS, f'{name}.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class _Head(nn.Linear):

    def loss(self, x):
        # work outside forward (as FCOS' target assignment) is the head's
        return (self(x) @ torch.ones(self.out_features, 3)).square().mean()


class _Text:
    """A text path that runs the language module (as TextTaskIO does)."""

    def __init__(self, language):
        self.language = language

    def loss(self, x):
        return self.language(x).mean()


class _Toy(nn.Module):

    def __init__(self):
        super().__init__()
        self.backbone = nn.Linear(8, 16)
        self.neck = nn.Linear(16, 16)
        self.det_head = _Head(16, 4)
        self.language = nn.Linear(16, 32)
        self.text = _Text(self.language)

    def forward(self, x):
        feats = self.neck(self.backbone(x))
        return (self.det_head.loss(feats) + self.language(feats).mean() +
                self.text.loss(feats))


def test_parts_get_their_flops_forward_and_backward():
    cp = _load('compute_profile')
    model, x = _Toy(), torch.randn(5, 8)
    profiler = cp.PartProfiler(model)
    with profiler.profile():
        model(x).backward()
    rows = {r['part']: r for r in profiler.table()}
    assert rows['backbone']['fwd_flops'] == 2 * 5 * 8 * 16
    # no input gradient for the backbone: only its weight's
    assert rows['backbone']['bwd_flops'] == 2 * 5 * 8 * 16
    assert rows['neck']['bwd_flops'] == 2 * rows['neck']['fwd_flops']
    # the head's extra matmul in loss() is the head's
    assert rows['det_head']['fwd_flops'] == 2 * 5 * 16 * 4 + 2 * 5 * 4 * 3
    # the language module inside the text path counts as text
    assert rows['language']['fwd_flops'] == 2 * 5 * 16 * 32
    assert rows['text']['fwd_flops'] == 2 * 5 * 16 * 32
    assert rows['text']['bwd_flops'] == rows['language']['bwd_flops'] > 0
    _, total = cp.count_flops(lambda: model(x).backward())
    assert sum(r['fwd_flops'] + r['bwd_flops'] for r in rows.values()) == total
    assert all(r['fwd_op_time'] >= 0 for r in rows.values())
    # the wrappers are gone afterwards
    assert 'loss' not in vars(model.det_head)


def test_peaks_are_positive_rates():
    cp = _load('compute_profile')
    assert cp.matmul_peak(64, repeats=1) > 0
    assert cp.conv_peak((1, 4, 8, 8), repeats=1) > 0
    assert cp.matmul_peak(64, repeats=1, cpu=True) > 0


def test_benchmark_reports_flops_and_breakdown(cfg, tmp_path):
    tool = _load('benchmark')
    cfg.train_dataloader.batch_size = 2
    cfg.test_dataloader.batch_size = 2
    path = str(tmp_path / 'cfg.py')
    cfg.dump(path)
    out = str(tmp_path / 'bench.json')
    results = tool.main([
        path, '--iters', '1', '--warmup', '0', '--matmul-size', '64',
        '--conv-shape', '1', '8', '8', '8', '--threads', '1', '--clock', 'cpu',
        '--out-json', out
    ])
    train = results['train']
    assert train['flops'] > 0 and train['flop_rate'] > 0
    assert 0 < train['roofline_share'] and 0 < train['roofline_share_cpu']
    parts = {r['part']: r for r in train['breakdown']}
    for part in ('backbone', 'neck', 'det_head', 'seg_head', 'language'):
        assert parts[part]['fwd_flops'] > 0, part
        assert parts[part]['bwd_flops'] > parts[part]['fwd_flops'] / 2, part
    counted = sum(r['fwd_flops'] + r['bwd_flops'] for r in parts.values())
    # another batch of the same shapes: the same FLOPs up to the language
    # branch's sequence lengths (a third of the step, 4-6 questions and one
    # text instruction of 120-460 tokens drawn per image)
    assert counted == pytest.approx(train['flops'], rel=0.25)
    dense = sum(parts[p]['fwd_flops'] + parts[p]['bwd_flops']
                for p in ('backbone', 'neck', 'det_head', 'seg_head'))
    assert dense < counted
    assert results['predict']['flops_per_image'] > 0
    assert json.load(open(out))['train']['flops'] == train['flops']


def test_benchmark_names_a_missing_dataloader():
    from mmengine.config import Config
    tool = _load('benchmark')
    cfg = Config(dict(train_dataloader=dict(), optim_wrapper=dict()))
    with pytest.raises(KeyError, match='test_dataloader'):
        tool.phase_step(None, cfg, 'predict')


def test_cpu_clock_and_a_bad_clock():
    cp = _load('compute_profile')
    model, x = _Toy(), torch.randn(5, 8)
    profiler = cp.PartProfiler(model, clock='cpu')
    with profiler.profile():
        model(x).backward()
    rows = {r['part']: r for r in profiler.table()}
    assert rows['neck']['fwd_flops'] == 2 * 5 * 16 * 16
    assert sum(r['fwd_op_time'] for r in rows.values()) >= 0
    with pytest.raises(ValueError, match='clock must be one of'):
        cp.PartProfiler(model, clock='gpu')
