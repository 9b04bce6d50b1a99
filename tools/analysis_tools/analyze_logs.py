"""Curves and training time from MMEngine's json scalar logs.

Like mmdet's tool of the same name, for the ``vis_data/scalars.json`` (or
``vis_data/<timestamp>.json``) files MMEngine writes: training lines carry
``epoch``, ``iter`` and ``step``; validation lines carry the metrics and
``step`` (the epoch).

Examples:
    # losses per epoch of a run, into a PNG
    python tools/analysis_tools/analyze_logs.py plot_curve \
        work_dirs/demo/20261203_150232 --keys loss det.loss_cls seg.loss_ce \
        --x epoch --out losses.png
    # two runs' mIoU, with a legend
    python tools/analysis_tools/analyze_logs.py plot_curve a.json b.json \
        --keys seg/mIoU --legend FCN U-Net --out miou.png
    # time per iteration and per epoch
    python tools/analysis_tools/analyze_logs.py cal_train_time a.json
"""
import argparse
import glob
import json
import os.path as osp
import statistics
from collections import OrderedDict, defaultdict
from typing import Dict, List, Optional, Sequence, Tuple

# keys of a training line that are positions, not values to plot
POSITION_KEYS = ('epoch', 'iter', 'step')


def resolve_log(path: str) -> str:
    """The json log of ``path``: a file, a ``vis_data`` folder or the
    timestamped run folder above it."""
    if osp.isfile(path):
        return path
    for folder in (path, osp.join(path, 'vis_data')):
        if osp.isfile(osp.join(folder, 'scalars.json')):
            return osp.join(folder, 'scalars.json')
        found = sorted(glob.glob(osp.join(folder, '*.json')))
        if found:
            return found[-1]
    raise FileNotFoundError(
        f'no json log at {path!r}: give a vis_data/scalars.json file, its '
        'vis_data folder or the run folder that holds vis_data/')


class RunLog:
    """One run's scalars: training values per iteration, validation values
    per epoch.

    Attributes:
        path (str): The json file read.
        train (list[dict]): Training lines in order (``epoch``, ``iter``,
            ``step`` and the logged values).
        val (dict[int, dict]): Validation values per epoch.
    """

    def __init__(self, path: str) -> None:
        self.path = resolve_log(path)
        self.train: List[dict] = []
        self.val: Dict[int, dict] = OrderedDict()
        with open(self.path) as f:
            for num, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    entry = json.loads(line)
                except json.JSONDecodeError as err:
                    raise ValueError(f'{self.path}:{num}: not a json line '
                                     f'({err.msg})') from None
                if 'iter' in entry:
                    self.train.append(entry)
                elif 'step' in entry:  # a validation epoch
                    self.val.setdefault(int(entry['step']), {}).update(entry)
        if not self.train and not self.val:
            raise ValueError(f'{self.path}: no training or validation lines '
                             '(is it an MMEngine scalar log?)')

    @property
    def keys(self) -> List[str]:
        """Every logged value's name."""
        names = []
        for entry in self.train + list(self.val.values()):
            names += [
                k for k in entry if k not in POSITION_KEYS and k not in names
            ]
        return names

    def last_iter_of_epoch(self) -> Dict[int, int]:
        """The last logged iteration (global step) of each epoch."""
        out = {}
        for entry in self.train:
            out[int(entry['epoch'])] = int(entry['step'])
        return out

    def series(self,
               key: str,
               x: str = 'epoch') -> Tuple[List[float], List[float]]:
        """``(xs, ys)`` of ``key``: training values per iteration or
        averaged per epoch; validation values at their epoch (``x='iter'``:
        at that epoch's last iteration)."""
        if x not in ('epoch', 'iter'):
            raise ValueError(f"x must be 'epoch' or 'iter', got {x!r}")
        train = [e for e in self.train if e.get(key) is not None]
        if train:
            if x == 'iter':
                return [e['step'] for e in train], [e[key] for e in train]
            per_epoch = defaultdict(list)
            for e in train:
                per_epoch[int(e['epoch'])].append(float(e[key]))
            epochs = sorted(per_epoch)
            return epochs, [statistics.mean(per_epoch[e]) for e in epochs]
        val = [(ep, v[key]) for ep, v in self.val.items()
               if v.get(key) is not None]
        if not val:
            raise KeyError(f'{self.path} has no values of {key!r}; its keys '
                           f'are {self.keys}')
        last = self.last_iter_of_epoch()
        xs = [ep if x == 'epoch' else last.get(ep, ep) for ep, _ in val]
        return xs, [float(v) for _, v in val]


def plot_curve(logs: Sequence[RunLog],
               keys: Sequence[str],
               x: str = 'epoch',
               legend: Optional[Sequence[str]] = None,
               title: Optional[str] = None,
               out: Optional[str] = None,
               separate: bool = False) -> None:
    """Draw ``keys`` of every log (one axes, or one per key with
    ``separate``) and save the figure to ``out`` (or show it)."""
    import matplotlib
    if out:
        matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    curves = [(log, key) for log in logs for key in keys]
    if legend is None:
        legend = [
            key if len(logs) == 1 else f'{osp.basename(log.path)}: {key}'
            for log, key in curves
        ]
    elif len(legend) != len(curves):
        raise ValueError(f'--legend has {len(legend)} names for '
                         f'{len(curves)} curves ({len(logs)} logs x '
                         f'{len(keys)} keys)')
    panels = len(keys) if separate else 1
    cols = min(panels, 3)
    rows = (panels + cols - 1) // cols
    fig, axes = plt.subplots(
        rows, cols, figsize=(4.5 * cols, 3.2 * rows), squeeze=False)
    for i, ((log, key), name) in enumerate(zip(curves, legend)):
        ax = axes.flat[keys.index(key) if separate else 0]
        xs, ys = log.series(key, x)
        ax.plot(
            xs,
            ys,
            marker='o' if len(xs) < 30 else None,
            markersize=3,
            label=name)
        ax.set_xlabel(x)
        if separate:
            ax.set_title(key, fontsize=10)
    for ax in axes.flat[:panels]:
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    for ax in axes.flat[panels:]:
        ax.axis('off')
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    if out:
        fig.savefig(out, dpi=100)
        print(f'saved {out}')
    else:
        plt.show()
    plt.close(fig)


def cal_train_time(log: RunLog, include_outliers: bool = False) -> dict:
    """Mean time per iteration per epoch (MMEngine's window-averaged
    ``time``), the slowest / fastest epoch and the estimated total.

    The first logged value of each epoch (dataloader start-up, first
    iterations) is left out unless ``include_outliers``.
    """
    per_epoch = defaultdict(list)
    for e in log.train:
        if e.get('time') is not None:
            per_epoch[int(e['epoch'])].append(float(e['time']))
    if not per_epoch:
        raise ValueError(f'{log.path}: no training line logs "time"')
    means = {}
    for epoch, times in per_epoch.items():
        kept = times if include_outliers or len(times) == 1 else times[1:]
        means[epoch] = statistics.mean(kept)
    last = log.last_iter_of_epoch()
    epochs = sorted(means)
    total, prev = 0.0, 0
    for epoch in epochs:
        total += means[epoch] * (last[epoch] - prev)
        prev = last[epoch]
    return dict(
        per_epoch=means,
        slowest=max(epochs, key=means.get),
        fastest=min(epochs, key=means.get),
        std_over_epochs=statistics.pstdev(means.values()),
        mean_iter_time=statistics.mean(means.values()),
        total_s=total)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest='task', required=True)
    plot = sub.add_parser('plot_curve', help='draw logged keys')
    plot.add_argument(
        'json_logs',
        nargs='+',
        help='json logs, vis_data folders or run folders')
    plot.add_argument(
        '--keys', nargs='+', default=['loss'], help='logged keys to draw')
    plot.add_argument(
        '--x',
        choices=['epoch', 'iter'],
        default='epoch',
        help='per epoch (training values averaged) or per '
        'iteration')
    plot.add_argument('--title', help='figure title')
    plot.add_argument(
        '--legend', nargs='+', help='one name per (log, key), logs outermost')
    plot.add_argument(
        '--separate', action='store_true', help='one panel per key')
    plot.add_argument('--out', help='PNG to write (default: show)')
    cal = sub.add_parser('cal_train_time', help='time per iteration')
    cal.add_argument('json_logs', nargs='+')
    cal.add_argument(
        '--include-outliers',
        action='store_true',
        help="keep each epoch's first logged time")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    logs = [RunLog(p) for p in args.json_logs]
    if args.task == 'plot_curve':
        plot_curve(logs, args.keys, args.x, args.legend, args.title, args.out,
                   args.separate)
        return None
    results = []
    for log in logs:
        res = cal_train_time(log, args.include_outliers)
        print(f'-----Analyze train time of {log.path}-----')
        print(f'slowest epoch {res["slowest"]}, average time is '
              f'{res["per_epoch"][res["slowest"]]:.4f} s/iter')
        print(f'fastest epoch {res["fastest"]}, average time is '
              f'{res["per_epoch"][res["fastest"]]:.4f} s/iter')
        print(f'time std over epochs is {res["std_over_epochs"]:.4f}')
        print(f'average iter time: {res["mean_iter_time"]:.4f} s/iter')
        print(f'estimated training time: {res["total_s"] / 60:.1f} min')
        results.append(res)
    return results


if __name__ == '__main__':
    main()
