"""Train and evaluate a list of configs and write a markdown table.

One command for an ablation study: each config is trained with
``tools/train.py`` (in its own process) on an optionally shorter schedule or
smaller subset, its last validation is read back, and a table of bbox mAP,
mIoU, VQA accuracy and training step time is written. A config whose run
finished before is skipped (delete its ``done.json`` to run it again), so
an interrupted study resumes where it stopped.

Example:
    python tools/analysis_tools/ablation_table.py \
        --epochs 2 --num-train 400 --num-val 100 \
        --out docs/ablations_router.md
"""
import argparse
import glob
import json
import os
import os.path as osp
import subprocess
import sys
import time
from typing import Dict, List, Optional

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, osp.join(ROOT, 'tools'))
from _bootstrap import ensure_package  # noqa: E402
from mmengine.config import Config, DictAction  # noqa: E402

DEFAULT_CONFIGS = [
    'configs/llava-detseg_clip-tiny_llama-tiny_1xb16-7e_shapes.py',
    'configs/llava-detseg_clip-tiny_llama-tiny_router-moe_1xb16-7e_shapes.py',
] + sorted(glob.glob(osp.join(ROOT, 'configs/ablations/router/*.py')))

# metric column -> key in the validation scalars
COLUMNS = {
    'bbox mAP': 'coco/bbox_mAP',
    'mIoU': 'seg/mIoU',
    'VQA acc': 'vqa/accuracy',
}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('configs', nargs='*',
                        help='configs to compare (default: the embedded '
                        'default, the router config and its ablations)')
    parser.add_argument('--work-dir', default='work_dirs/ablation_table',
                        help='one sub-folder per config')
    parser.add_argument('--out', default='docs/ablations_router.md',
                        help='markdown file written at the end')
    parser.add_argument('--epochs', type=int,
                        help='train this many epochs (scheduler shortened)')
    parser.add_argument('--num-train', type=int,
                        help='train on the first N training images')
    parser.add_argument('--num-val', type=int,
                        help='validate on the first N validation images')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='overrides applied to every config')
    parser.add_argument('--nice', type=int, default=0,
                        help='niceness of the training processes')
    parser.add_argument('--dry-run', action='store_true',
                        help='only write the configs and print the plan')
    return parser.parse_args()


def shorten(cfg: Config, args: argparse.Namespace) -> None:
    """Apply --epochs / --num-train / --num-val / --cfg-options in place."""
    if args.num_train:
        cfg.train_dataloader.dataset.indices = args.num_train
    if args.num_val:
        for key in ('val_dataloader', 'test_dataloader'):
            cfg[key].dataset.indices = args.num_val
    if args.epochs:
        epochs = args.epochs
        cfg.train_cfg.max_epochs = epochs
        cfg.train_cfg.val_interval = epochs
        n = args.num_train or 10**9
        iters = max(1, epochs * (n // cfg.train_dataloader.batch_size))
        for sched in cfg.get('param_scheduler') or []:
            if sched.get('by_epoch', True):
                # cosine and similar: over the new number of epochs
                sched.end = epochs
                if 'T_max' in sched:
                    sched.T_max = epochs
            elif sched.get('end', 0) > iters // 4:
                # warm-up: at most a quarter of a short run
                sched.end = max(1, iters // 4)
        # enough logged windows for a step time on a short run
        cfg.default_hooks.logger.interval = min(
            cfg.default_hooks.logger.interval, max(1, iters // 10))
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    cfg.default_hooks.checkpoint.max_keep_ckpts = 1


def last_val(work_dir: str) -> Optional[dict]:
    """The last validation scalars and the mean training step time."""
    runs = sorted(glob.glob(osp.join(work_dir, '*', 'vis_data',
                                     'scalars.json')))
    if not runs:
        return None
    val, times = None, []
    with open(runs[-1]) as f:
        for line in f:
            rec = json.loads(line)
            if any(k in rec for k in COLUMNS.values()):
                val = {**(val or {}), **rec}
            elif any(k.startswith('val/router/') for k in rec):
                # RouterStatsHook's validation statistics
                val = {**(val or {}),
                       **{k[4:]: v for k, v in rec.items()
                          if k.startswith('val/')}}
            elif 'loss' in rec and 'time' in rec:
                times.append(rec['time'])
    if val is None:
        return None
    # the first logged window holds start-up costs
    steady = times[1:] or times
    val['step_time'] = sum(steady) / len(steady) if steady else float('nan')
    return val


def router_shares(val: dict) -> str:
    """'0.21/0.30/...' of the pooled expert shares, if logged."""
    shares = [v for k, v in sorted(val.items())
              if k.startswith('router/expert') and k.endswith('_share')]
    return '/'.join(f'{s:.2f}' for s in shares) if shares else '-'


def table(rows: List[Dict[str, str]]) -> str:
    heads = ['config'] + list(COLUMNS) + ['step time (s)',
                                          'router expert shares']
    lines = ['| ' + ' | '.join(heads) + ' |',
             '|' + '|'.join(['---'] * len(heads)) + '|']
    for r in rows:
        lines.append('| ' + ' | '.join(r.get(h, '-') for h in heads) + ' |')
    return '\n'.join(lines)


def main() -> int:
    args = parse_args()
    ensure_package()
    configs = args.configs or DEFAULT_CONFIGS
    os.makedirs(args.work_dir, exist_ok=True)
    rows = []
    for n, path in enumerate(configs, 1):
        name = osp.splitext(osp.basename(path))[0]
        wd = osp.join(args.work_dir, name)
        done = osp.join(wd, 'done.json')
        tag = f'[{n}/{len(configs)}] {name}'
        if not osp.isfile(done):
            if not osp.isfile(path):
                print(f'error: config {path} does not exist', file=sys.stderr)
                return 2
            cfg = Config.fromfile(path)
            shorten(cfg, args)
            os.makedirs(wd, exist_ok=True)
            run_cfg = osp.join(wd, f'{name}.py')
            cfg.dump(run_cfg)
            cmd = ['nice', '-n', str(args.nice), sys.executable,
                   osp.join(ROOT, 'tools', 'train.py'), run_cfg,
                   '--work-dir', wd]
            print(f'{tag}: training ({" ".join(cmd)})', flush=True)
            if args.dry_run:
                continue
            start = time.time()
            env = dict(os.environ)
            env['PYTHONPATH'] = osp.join(ROOT, 'projects') + os.pathsep + \
                env.get('PYTHONPATH', '')
            with open(osp.join(wd, 'train.out'), 'w') as log:
                rc = subprocess.call(cmd, stdout=log, stderr=subprocess.STDOUT,
                                     env=env, cwd=ROOT)
            if rc != 0:
                print(f'{tag}: failed (exit {rc}), see {wd}/train.out',
                      file=sys.stderr)
                continue
            val = last_val(wd)
            if val is None:
                print(f'{tag}: no validation result in {wd}', file=sys.stderr)
                continue
            val['wall_s'] = time.time() - start
            with open(done, 'w') as f:
                json.dump(val, f, indent=1)
            print(f'{tag}: done in {val["wall_s"]:.0f} s', flush=True)
        else:
            print(f'{tag}: already done, skipped', flush=True)
        if not osp.isfile(done):
            continue
        with open(done) as f:
            val = json.load(f)
        row = {'config': name,
               'step time (s)': f'{val["step_time"]:.2f}',
               'router expert shares': router_shares(val)}
        for col, key in COLUMNS.items():
            if key in val:
                row[col] = f'{val[key]:.3f}'
        rows.append(row)
        # after every config: an interrupted study still leaves its table
        write_table(rows, args.out, final=False)
    if args.dry_run:
        return 0
    print(write_table(rows, args.out, final=True))
    return 0


def write_table(rows: List[Dict[str, str]], out: Optional[str],
                final: bool) -> str:
    """Write the markdown table to ``out`` (if set) and return it."""
    text = table(rows)
    if out:
        os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)
        with open(out, 'w') as f:
            f.write(text + '\n')
        if final:
            print(f'table written to {out}')
    return text


if __name__ == '__main__':
    sys.exit(main())
