"""tools/test.py scores every VQA benchmark (small files in the published
formats) with a model of the embedded default, beside the shapes metrics
(boundary F1 among them), in one summary; forgetting against a reference."""
import glob
import json
import os.path as osp
import subprocess
import sys

import pytest

from benchmark_files import write_all
from conftest import random_checkpoint

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
BENCH_CONFIG = osp.join(
    ROOT, 'configs', 'benchmarks',
    'llava-detseg_clip-tiny_llama-tiny_1xb16-7e_shapes_vqa-benchmarks.py')


def run_test_tool(*args):
    return subprocess.run(
        [sys.executable, osp.join(ROOT, 'tools', 'test.py'), *args],
        capture_output=True, text=True, cwd=ROOT, timeout=1200)


@pytest.fixture(scope='module')
def bench(tiny_ckpt, shapes_root, tmp_path_factory):
    """The benchmark config on test folders and a random checkpoint of the
    embedded default's model: ``(config, checkpoint, written, tmp)``."""
    from mmengine.config import Config
    tmp = tmp_path_factory.mktemp('bench')
    data = str(tmp / 'data')
    written = write_all(data)
    cfg = Config.fromfile(BENCH_CONFIG)
    cfg.model.backbone.pretrained = tiny_ckpt['clip']
    cfg.model.language.pretrained = tiny_ckpt['llava']
    # short answers keep a random model's generations cheap
    cfg.model.language.max_new_tokens = 4
    cfg.model.text_cfg.max_new_tokens = 24
    loader = cfg.test_dataloader
    loader.batch_size, loader.num_workers = 4, 0
    loader.persistent_workers = False
    sources = loader.dataset.datasets
    sources.shapes.data_root = shapes_root.rstrip('/') + '/'
    for name, source in sources.items():
        if name != 'shapes':
            source.data_root = osp.join(
                data, source.data_root.replace('data/', '', 1))
    ann = sources.shapes.data_root + 'annotations/instances_val.json'
    for ev in cfg.test_evaluator:
        if ev.get('metric', {}).get('type') == 'DetCocoMetric':
            ev.metric.ann_file = ann
        if 'det_metric' in ev:
            ev.det_metric.ann_file = ann
    cfg.default_hooks.visualization.interval = 1000
    config = str(tmp / 'bench.py')
    cfg.dump(config)
    ckpt = random_checkpoint(cfg.model, str(tmp / 'model.pth'))
    return config, ckpt, written, tmp


@pytest.mark.slow
def test_one_run_scores_heads_text_and_every_benchmark(bench, shapes_root):
    config, ckpt, written, tmp = bench
    out = str(tmp / 'summary.json')
    proc = run_test_tool(config, ckpt, '--work-dir', str(tmp / 'w1'),
                         '--out-json', out, '--show-dir', 'shown')
    assert proc.returncode == 0, proc.stderr[-3000:]
    # every benchmark image drawn under its own name (ScienceQA's are all
    # image.png, MME's subtasks reuse 0000.png)
    shown = {osp.basename(p) for p in glob.glob(
        str(tmp / 'w1' / '*' / 'shown' / '*'))}
    for name in ('scienceqa_11.png', 'scienceqa_12.png', 'gqa_201.jpg',
                 'mme_existence_0000_1.png', 'mme_code_reasoning_0000_1.png',
                 'vizwiz_VizWiz_val_00000000.jpg'):
        assert name in shown, sorted(shown)
    assert len([n for n in shown if n.startswith('pope_')]) == 2
    with open(out) as f:
        metrics = json.load(f)['metrics']
    # every benchmark scored all of its questions
    for name in ('vqav2', 'gqa', 'vizwiz', 'textvqa', 'scienceqa'):
        assert metrics[f'{name}/num_questions'] == written[name][
            'questions'], name
        assert 0.0 <= metrics[f'{name}/accuracy'] <= 1.0
    for split in ('random', 'popular', 'adversarial'):
        assert metrics[f'pope/{split}/num_questions'] == 2
        assert 0.0 <= metrics[f'pope/{split}/yes_ratio'] <= 1.0
    assert metrics['mme/num_questions'] == written['mme']['questions']
    assert 0 <= metrics['mme/perception'] <= 200  # one perception subtask
    # the shapes metrics beside them: boundary F1 next to mIoU, AP50, the
    # held-out conversations' answer loss; the benchmarks' questions are
    # not counted by the shapes VQA metric
    assert 0.0 <= metrics['seg/mBF1'] <= 100.0 and 'seg/mIoU' in metrics
    assert 'coco/bbox_mAP_50' in metrics
    assert metrics['coco/bbox_num_predictions'] >= 0
    assert metrics['conv/perplexity'] > 1.0
    with open(osp.join(shapes_root, 'annotations', 'llava_val.json')) as f:
        assert metrics['vqa/num_questions'] == len(json.load(f))
    # one summary table, every group in it
    for line in ('Test metrics:', '  detection head', '  benchmark gqa',
                 '  benchmark pope', '    seg/mBF1: ',
                 '    conv/perplexity: '):
        assert line in proc.stdout, line

    # forgetting against a reference that scored known values: the drop of
    # each benchmark score is (ref - cur) / ref of this (deterministic,
    # greedy) run; the shapes set left out this time
    from llava_detseg.evaluation.functional.forgetting import (
        benchmark_scores)
    scores = [k for k, _ in benchmark_scores(metrics)
              if not k.startswith(('vqa/', 'conv/'))]
    assert len(scores) == 8  # 5 accuracies, POPE F1, MME's two sums
    reference = {k: 0.8 if metrics[k] <= 1 else 150.0 for k in scores}
    ref_file = str(tmp / 'reference.json')
    with open(ref_file, 'w') as f:
        json.dump(reference, f)
    out2 = str(tmp / 'summary2.json')
    no_shapes = ['--cfg-options', 'test_dataloader.dataset.datasets.shapes='
                 'None']
    proc = run_test_tool(config, ckpt, '--work-dir', str(tmp / 'w2'),
                         '--reference-checkpoint', ref_file,
                         '--out-json', out2, *no_shapes)
    assert proc.returncode == 0, proc.stderr[-3000:]
    with open(out2) as f:
        summary = json.load(f)
    rows = {r['key']: r for r in summary['forgetting']}
    assert set(rows) == set(scores)
    for key in scores:
        ref = reference[key]
        assert rows[key]['current'] == pytest.approx(metrics[key]), key
        assert rows[key]['drop'] == pytest.approx(
            (ref - metrics[key]) / ref), key
    assert summary['metrics']['gqa/forgetting_rate'] == pytest.approx(
        rows['gqa/accuracy']['drop'])
    assert 'forgetting against the reference' in proc.stdout

    # a reference that scored 0 on a benchmark: one line naming it
    reference['gqa/accuracy'] = 0.0
    with open(ref_file, 'w') as f:
        json.dump(reference, f)
    proc = run_test_tool(config, ckpt, '--work-dir', str(tmp / 'w3'),
                         '--reference-checkpoint', ref_file, *no_shapes)
    assert proc.returncode == 1
    err = proc.stderr.strip().splitlines()
    assert err[-1].startswith('error: forgetting: the reference scores 0 '
                              'on "gqa/accuracy"'), proc.stderr[-2000:]
    assert 'Traceback' not in proc.stderr
