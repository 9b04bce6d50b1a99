"""The tiny twin under FlexibleRunner with FSDP and with DeepSpeed ZeRO-2:
two CPU processes (gloo) train two epochs, validate (every rank answering
its own questions), save, and a second launch resumes for a third."""
import glob
import json
import os.path as osp

import pytest

from conftest import ROOT
from sample_datasets import twin_config
from test_train_test_tools import _ok, run_tool

pytestmark = pytest.mark.slow

ENGINES = {
    'fsdp': 'llava-detseg_clip-tiny_llama-tiny_fsdp_2xb2-2e_coco-ade-llava-tiny.py',
    'deepspeed': 'llava-detseg_clip-tiny_llama-tiny_deepspeed-zero2_2xb2-2e_'
                 'coco-ade-llava-tiny.py',
}


def _lines(work):
    rows = []
    for path in sorted(glob.glob(osp.join(work, '*', 'vis_data',
                                          'scalars.json'))):
        with open(path) as f:
            rows += [json.loads(line) for line in f]
    return rows


@pytest.mark.parametrize('engine', sorted(ENGINES))
def test_trains_validates_saves_and_resumes(engine, tiny_ckpt, tmp_path):
    if engine == 'deepspeed':
        pytest.importorskip('deepspeed')
    cfg = twin_config(osp.join(ROOT, 'configs', ENGINES[engine]),
                      tiny_ckpt, str(tmp_path / 'tiny'))
    path = str(tmp_path / f'{engine}.py')
    cfg.dump(path)
    work = str(tmp_path / 'work')

    _ok(run_tool('bash', 'tools/dist_train.sh', path, '2', '--work-dir', work))
    rows = _lines(work)
    train = [r for r in rows if 'loss' in r]
    assert {r['epoch'] for r in train} == {1, 2}
    for key in ('det.loss_cls', 'seg.loss_ce', 'vqa.loss_lm'):
        assert any(key in r for r in train), key
    val = [r for r in rows if 'ade/mIoU' in r]
    assert val and 'conv/perplexity' in val[-1] and \
        'coco/bbox_num_predictions' in val[-1]
    ckpt = osp.join(work, 'epoch_2.pth')
    if engine == 'fsdp':
        # one full checkpoint in DDP's layout, read with weights-only loading
        from llava_detseg.utils.checkpoint_io import load_checkpoint_file
        state = load_checkpoint_file(ckpt)
        assert {'state_dict', 'optimizer', 'message_hub'} <= set(state)
        assert any(k.startswith('det_head.') for k in state['state_dict'])
        assert not any('_flat_param' in k or '_fsdp_wrapped' in k
                       for k in state['state_dict'])
    else:  # DeepSpeed's folder: the model and one optimizer shard per rank
        assert osp.isfile(osp.join(ckpt, 'mp_rank_00_model_states.pt'))
        assert len(glob.glob(osp.join(ckpt, '*optim_states.pt'))) == 2

    proc = _ok(run_tool('bash', 'tools/dist_train.sh', path, '2',
                        '--work-dir', work, '--resume',
                        '--cfg-options', 'train_cfg.max_epochs=3'))
    assert 'resumed epoch: 2, iter: 6' in proc.stdout + proc.stderr
    third = [r for r in _lines(work) if 'loss' in r and r['epoch'] == 3]
    assert [r['iter'] for r in third] == [7, 8, 9]
