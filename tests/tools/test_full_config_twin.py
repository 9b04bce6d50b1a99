"""The full config's tiny twin: tools/dist_train.sh with 2 CPU processes on
a tiny COCO / ADE20K / LLaVA-Instruct tree, then the evaluation."""
import glob
import os.path as osp

import pytest
from mmengine.config import Config

from conftest import ROOT
from sample_datasets import twin_config
from test_train_test_tools import _ok, _scalars, run_tool

pytestmark = pytest.mark.slow

TWIN = osp.join(
    ROOT, 'configs',
    'llava-detseg_clip-tiny_llama-tiny_2xb2-2e_coco-ade-llava-tiny.py')
FULL = osp.join(ROOT, 'configs', 'llava_detseg.py')


def test_twin_has_the_full_structure():
    twin, full = Config.fromfile(TWIN), Config.fromfile(FULL)
    for key in ('type', 'data_preprocessor'):
        assert twin.model[key] == full.model[key]
    for part in ('backbone', 'det_head', 'seg_head', 'language'):
        assert twin.model[part].type == full.model[part].type
    assert twin.model.det_head.strides == full.model.det_head.strides
    assert twin.model.det_head.num_classes == 80
    assert twin.model.seg_head.num_classes == 150
    assert twin.model.gradient_checkpointing
    for loader in ('train_dataloader', 'val_dataloader'):
        t, f = twin[loader], full[loader]
        assert t.sampler.type == f.sampler.type
        assert t.dataset.type == f.dataset.type
        assert {k: v.type for k, v in t.dataset.datasets.items()} == \
            {k: v.type for k, v in f.dataset.datasets.items()}
    assert [m.type for m in twin.val_evaluator] == \
        [m.type for m in full.val_evaluator]


def test_twin_trains_on_two_processes_and_evaluates(tiny_ckpt, tmp_path):
    cfg = twin_config(TWIN, tiny_ckpt, str(tmp_path / 'tiny'))
    path = str(tmp_path / 'twin.py')
    cfg.dump(path)
    work = str(tmp_path / 'work')
    proc = _ok(run_tool('bash', 'tools/dist_train.sh', path, '2',
                        '--work-dir', work))
    assert 'gloo' in proc.stdout + proc.stderr
    lines = _scalars(work)
    train = [r for r in lines if 'loss' in r]
    # every task's loss was seen, over both epochs
    for key in ('det.loss_cls', 'seg.loss_ce', 'vqa.loss_lm'):
        assert any(key in r for r in train), key
    assert {r['epoch'] for r in train} == {1, 2}
    assert max(r['iter'] for r in train) == 6  # 3 steps x 2 epochs
    val = [r for r in lines if 'ade/mIoU' in r]
    assert val, 'no evaluation'
    # the held-out conversations are scored by answer-token loss, as at
    # full scale (exact match of paragraphs would read ~0 for any model)
    for key in ('conv/loss', 'conv/perplexity', 'conv/num_samples'):
        assert key in val[-1], key
    assert val[-1]['conv/num_tokens'] > val[-1]['conv/num_samples'] >= 1
    assert val[-1]['conv/perplexity'] > 1
    assert 'ade/mBF1' in val[-1]
    # the COCO metric ran: a 6-step model that finds nothing above the score
    # threshold scores a real 0 with its prediction count
    assert 'coco/bbox_mAP' in val[-1]
    assert val[-1]['coco/bbox_num_predictions'] >= 0
    assert glob.glob(osp.join(work, 'epoch_2.pth'))
