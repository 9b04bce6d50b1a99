"""The fault corpus: tools/test.py and a 2-iteration tools/train.py on every
one-fault dataset give a one-line error naming the file, or a completed run
with the skip counted; never a traceback, never silence."""
import importlib.util
import os.path as osp
import sys

import pytest
import torch

from conftest import ROOT, tiny_config

pytestmark = pytest.mark.slow


@pytest.fixture
def runner():
    """tools/misc/run_fault_corpus.py, with sys.path as it was afterwards
    (it puts tools/ there, for the tools' own imports)."""
    path = osp.join(ROOT, 'tools', 'misc', 'run_fault_corpus.py')
    saved = list(sys.path)
    spec = importlib.util.spec_from_file_location('run_fault_corpus', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    yield module
    sys.path[:] = saved


def test_every_fault_case_gives_its_outcome(runner, tiny_ckpt, tmp_path,
                                            capsys):
    from mmengine.registry import init_default_scope

    from llava_detseg.registry import MODELS
    config = str(tmp_path / 'tiny.py')
    cfg = tiny_config(tiny_ckpt, str(tmp_path / 'unused'))
    cfg.dump(config)
    init_default_scope('llava_detseg')
    checkpoint = str(tmp_path / 'model.pth')
    torch.save(dict(state_dict=MODELS.build(cfg.model).state_dict(),
                    meta=dict()), checkpoint)
    corpus = str(tmp_path / 'corpus')
    cases = runner.build_corpus(corpus)
    kinds = {}
    for case in cases:
        kinds[case.kind] = kinds.get(case.kind, 0) + 1
    assert len(cases) >= 50
    assert all(kinds[k] >= 8 for k in ('images', 'coco', 'semantic',
                                       'conversations')), kinds
    assert sum(c.train == 'skip' for c in cases) >= 10

    records = runner.run_corpus(corpus, config, checkpoint, cases, log=None)

    # every case and the clean base went through both tools
    assert len(records) == 2 * (len(cases) + 1)
    counts = runner.summary(records)
    with capsys.disabled():  # the numbers, in the CI log
        print(f'\nfault corpus: {len(cases)} cases {kinds}; outcomes per '
              f'tool {counts}')
    bad = [f'{r["case"]} ({r["tool"]}): want {r["want"]}, got {r["got"]}: '
           f'{r["line"]}\n{r["exception"] or ""}'
           for r in records if r['got'] != r['want']]
    assert not bad, '\n'.join(bad)
    assert 'traceback' not in counts['test'] | counts['train']
    assert 'silent' not in counts['test'] | counts['train']
    assert counts['train']['skip'] == sum(c.train == 'skip' for c in cases)
    assert counts['test']['error'] == sum(c.test == 'error' for c in cases)
    assert counts['test']['skip'] == sum(c.test == 'skip' for c in cases)
