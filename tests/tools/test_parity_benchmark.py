"""tools/analysis_tools/parity_benchmark.py: shared pass vs single-task
passes, and text answers with and without constrained decoding."""
import importlib.util
import os.path as osp
import sys

import pytest

from conftest import ROOT

TOOLS = osp.join(ROOT, 'tools', 'analysis_tools')


@pytest.fixture(scope='module')
def tool():
    if TOOLS not in sys.path:
        sys.path.insert(0, TOOLS)
    spec = importlib.util.spec_from_file_location(
        'parity_benchmark', osp.join(TOOLS, 'parity_benchmark.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_shared_pass_matches_single_task_passes(tool, cfg, tmp_path):
    path = str(tmp_path / 'cfg.py')
    cfg.dump(path)
    res = tool.main([
        path, '--batches', '1', '--batch-size', '2', '--repeats', '1',
        '--out-json',
        str(tmp_path / 'parity.json')
    ])
    predict, train = res['predict'], res['train']
    assert set(predict['single']) == {'det', 'seg', 'vqa'}
    # the single passes run the backbone three times
    assert predict['shared']['flops'] < predict['single_total']['flops']
    assert train['shared']['flops'] < train['single_total']['flops']
    assert predict['saving']['flops'] > 0
    # one backbone pass gives the same boxes, masks, answers and losses
    assert predict['agreement']['max_box_diff'] < 1e-4
    assert predict['agreement']['masks_equal']
    assert predict['agreement']['answers_equal']
    assert train['agreement']['max_loss_diff'] < 1e-4
    assert 'text' not in res  # no text_cfg
    assert osp.getsize(str(tmp_path / 'parity.json')) > 0


@pytest.mark.slow
def test_text_answers_constrained_and_free(tool, text_model, tmp_path):
    res = tool.main([
        text_model['config'], text_model['checkpoint'], '--batches', '1',
        '--batch-size', '1', '--repeats', '1', '--modes', 'predict',
        '--cfg-options', 'model.text_cfg.max_new_tokens=8'
    ])
    text = res['text']
    assert set(text) == {'constrained (context)', 'free greedy'}
    for r in text.values():
        assert r['answers'] > 0
        assert 0 < r['tokens_per_answer'] <= 8
        assert r['time_per_answer_s'] > 0 and r['flops_per_answer'] > 0
