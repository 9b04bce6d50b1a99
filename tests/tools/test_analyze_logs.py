"""tools/analysis_tools/analyze_logs.py on a small written scalar log."""
import importlib.util
import json
import os.path as osp

import pytest

from conftest import ROOT


@pytest.fixture(scope='module')
def tool():
    spec = importlib.util.spec_from_file_location(
        'analyze_logs',
        osp.join(ROOT, 'tools', 'analysis_tools', 'analyze_logs.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def run_dir(tmp_path):
    """A run folder as MMEngine writes it: 2 epochs x 3 logged iterations
    and a validation line after each epoch."""
    vis = tmp_path / '20260101_000000' / 'vis_data'
    vis.mkdir(parents=True)
    lines = []
    step = 0
    for epoch in (1, 2):
        for k, time in enumerate((5.0, 1.0, 2.0)):  # 5.0: start-up outlier
            step += 10
            lines.append(
                dict(
                    loss=10.0 / step,
                    time=time * epoch,
                    epoch=epoch,
                    iter=step,
                    step=step))
        lines.append({'seg/mIoU': 40.0 * epoch, 'step': epoch})
    (vis / 'scalars.json').write_text('\n'.join(json.dumps(x)
                                                for x in lines) + '\n')
    return str(tmp_path / '20260101_000000')


def test_series_per_epoch_and_iteration(tool, run_dir):
    log = tool.RunLog(run_dir)
    assert log.path.endswith('vis_data/scalars.json')
    xs, ys = log.series('loss', 'epoch')
    assert xs == [1, 2]
    assert ys[0] == pytest.approx((1.0 + 0.5 + 10 / 30) / 3)
    xs, ys = log.series('loss', 'iter')
    assert xs == [10, 20, 30, 40, 50, 60] and ys[0] == 1.0
    assert log.series('seg/mIoU', 'epoch') == ([1, 2], [40.0, 80.0])
    # validation at the last iteration of its epoch
    assert log.series('seg/mIoU', 'iter') == ([30, 60], [40.0, 80.0])


def test_missing_key_names_the_logged_ones(tool, run_dir):
    with pytest.raises(
            KeyError, match=r"coco/bbox_mAP.*\['loss', 'time', "
            r"'seg/mIoU'\]"):
        tool.RunLog(run_dir).series('coco/bbox_mAP')


def test_bad_paths_and_lines_are_named(tool, tmp_path):
    with pytest.raises(FileNotFoundError, match='no json log'):
        tool.RunLog(str(tmp_path / 'nowhere'))
    bad = tmp_path / 'bad.json'
    bad.write_text('{"loss": 1, "iter": 1, "epoch": 1, "step": 1}\n{oops\n')
    with pytest.raises(ValueError, match=r'bad.json:2'):
        tool.RunLog(str(bad))
    empty = tmp_path / 'empty.json'
    empty.write_text('{"lr": 1}\n')
    with pytest.raises(ValueError, match='no training or validation'):
        tool.RunLog(str(empty))


def test_plot_curve_writes_a_png(tool, run_dir, tmp_path):
    from PIL import Image
    out = str(tmp_path / 'curves.png')
    tool.main([
        'plot_curve', run_dir, run_dir, '--keys', 'loss', 'seg/mIoU',
        '--separate', '--title', 'two runs', '--legend', 'a loss', 'a miou',
        'b loss', 'b miou', '--out', out
    ])
    width, height = Image.open(out).size
    single = str(tmp_path / 'one.png')
    tool.main([
        'plot_curve', run_dir, '--keys', 'loss', '--x', 'iter', '--out', single
    ])
    # two panels side by side against one
    assert width > Image.open(single).size[0] and height > 100


def test_plot_curve_legend_must_match_the_curves(tool, run_dir, tmp_path):
    with pytest.raises(ValueError, match='2 names for 1 curves'):
        tool.main([
            'plot_curve', run_dir, '--legend', 'a', 'b', '--out',
            str(tmp_path / 'x.png')
        ])


def test_cal_train_time(tool, run_dir):
    res, = tool.main(['cal_train_time', run_dir])
    # the first logged time of each epoch is left out
    assert res['per_epoch'] == {1: 1.5, 2: 3.0}
    assert (res['slowest'], res['fastest']) == (2, 1)
    assert res['total_s'] == pytest.approx(1.5 * 30 + 3.0 * 30)
    res, = tool.main(['cal_train_time', run_dir, '--include-outliers'])
    assert res['per_epoch'][1] == pytest.approx(8.0 / 3)
