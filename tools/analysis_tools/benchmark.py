"""Training and inference speed, peak memory and compute of a config.

Reports images/s and ms per step for training and prediction, the peak
memory, and (``--analyses``):

* ``flops``: FLOPs of one training step (forward + backward, PyTorch's
  ``FlopCounterMode``) and of prediction per image, and the FLOP/s achieved;
* ``peak``: this machine's FLOP/s on a large fp32 matrix product and on a
  3x3 convolution, and the step's share of the matrix-product peak (the
  roofline share);
* ``breakdown``: one training step split by part (backbone, router, neck,
  det head, seg head, language branch, text path) into forward / backward
  FLOPs and op time, and the wall time the ops leave to Python.

Example:
    python tools/analysis_tools/benchmark.py CONFIG --iters 30 --warmup 5 \
        --out-json work_dirs/bench.json
"""
import argparse
import json
import os.path as osp
import resource
import statistics
import sys
import time
from typing import Callable, Dict, List

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from _bootstrap import ensure_package  # noqa: E402
from mmengine.config import Config, DictAction  # noqa: E402

ANALYSES = ('speed', 'flops', 'peak', 'breakdown')


def add_run_args(parser: argparse.ArgumentParser) -> None:
    """The options every measuring tool shares (this one and
    ``parity_benchmark.py``): threads, clock, JSON output, config edits."""
    parser.add_argument(
        '--threads',
        type=int,
        help='torch intra-op threads (default: torch\'s)')
    parser.add_argument(
        '--clock',
        choices=['wall', 'cpu'],
        default='wall',
        help='cpu: the process\'s CPU time (with --threads 1, robust to '
        'other jobs on the cores)')
    parser.add_argument('--out-json', help='also write the numbers here')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)


def load_run_config(args: argparse.Namespace) -> Config:
    """The config with ``--cfg-options`` merged; ``--threads`` applied."""
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    if args.threads:
        import torch
        torch.set_num_threads(args.threads)
    return cfg


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='config file')
    parser.add_argument('--checkpoint', help='weights to load (optional)')
    parser.add_argument(
        '--iters', type=int, default=20, help='timed iterations per phase')
    parser.add_argument(
        '--warmup', type=int, default=3, help='untimed iterations first')
    parser.add_argument(
        '--phases',
        nargs='+',
        default=['train', 'predict'],
        choices=['train', 'predict'])
    parser.add_argument(
        '--analyses',
        nargs='+',
        default=list(ANALYSES),
        choices=ANALYSES,
        help='what to measure')
    parser.add_argument(
        '--matmul-size',
        type=int,
        default=2048,
        help='n of the (n, n) x (n, n) peak product')
    parser.add_argument(
        '--conv-shape',
        type=int,
        nargs=4,
        default=[16, 64, 32, 32],
        metavar=('N', 'C', 'H', 'W'),
        help='input of the peak 3x3 convolution (C -> C)')
    add_run_args(parser)
    args = parser.parse_args(argv)
    if args.iters < 1 or args.warmup < 0:
        parser.error('--iters must be >= 1 and --warmup >= 0')
    return args


def _peak_memory_mb(device: str) -> float:
    import torch
    if device == 'cuda':
        return torch.cuda.max_memory_allocated() / 2**20
    # ru_maxrss is in KiB on Linux: the process's peak resident memory
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _batches(loader):
    while True:
        yield from loader


def build(cfg: Config, checkpoint: str = None):
    """``(model, device)`` from a config (registries set up)."""
    import torch
    from mmengine.registry import init_default_scope
    from mmengine.runner import load_checkpoint

    from llava_detseg.registry import MODELS
    init_default_scope(cfg.get('default_scope', 'llava_detseg'))
    device = 'cuda' if torch.cuda.is_available() else 'cpu'
    model = MODELS.build(cfg.model).to(device)
    if checkpoint:
        load_checkpoint(model, checkpoint, map_location='cpu')
    else:
        # as the runner does before training: the heads' priors (FCOS's
        # cls bias) and the adapters' B = 0, so losses read as in a run
        model.init_weights()
    return model, device


def phase_step(model, cfg: Config, phase: str) -> Callable:
    """``(step(batch), batches, batch_size)`` of a phase; the model set to
    train / eval mode."""
    from mmengine.optim import build_optim_wrapper
    from mmengine.runner import Runner
    for key in ('train_dataloader', 'test_dataloader', 'optim_wrapper'):
        if key not in cfg:
            raise KeyError(f'the config has no {key}: benchmark.py needs '
                           'train_dataloader, optim_wrapper and '
                           'test_dataloader')
    loader_cfg = cfg.train_dataloader if phase == 'train' else \
        cfg.test_dataloader
    loader = Runner.build_dataloader(loader_cfg, seed=0)
    if phase == 'train':
        model.train()
        wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
        step = lambda b: model.train_step(b, wrapper)  # noqa: E731
        step.optim_wrapper = wrapper
    else:
        model.eval()
        step = model.test_step
    return step, _batches(loader), loader_cfg.batch_size


def time_steps(step: Callable, batches, iters: int, warmup: int, train: bool,
               device: str) -> Dict[str, float]:
    """Per-step wall times: mean, best, images/s."""
    import torch
    times: List[float] = []
    cpu_times: List[float] = []
    images = 0
    for i in range(warmup + iters):
        batch = next(batches)
        if device == 'cuda':
            torch.cuda.synchronize()
        start, cpu_start = time.perf_counter(), time.process_time()
        with torch.set_grad_enabled(train):
            step(batch)
        if device == 'cuda':
            torch.cuda.synchronize()
        if i >= warmup:
            times.append(time.perf_counter() - start)
            cpu_times.append(time.process_time() - cpu_start)
            images += len(batch['data_samples'])
    # CPU time (all threads): what the step costs when other processes
    # share the cores and stretch its wall time
    return dict(
        mean_s=statistics.mean(times),
        best_s=min(times),
        mean_cpu_s=statistics.mean(cpu_times),
        images_per_s=images / sum(times))


def measure_flops(step: Callable, batches, train: bool) -> Dict[str, float]:
    """FLOPs of one step (of the next batch) and per image."""
    import torch
    from compute_profile import count_flops
    batch = next(batches)
    with torch.set_grad_enabled(train):
        _, flops = count_flops(lambda: step(batch))
    return dict(
        flops=flops, flops_per_image=flops / len(batch['data_samples']))


def measure_breakdown(model,
                      step: Callable,
                      batches,
                      repeats: int = 2,
                      clock: str = 'wall'):
    """Rows of ``PartProfiler.table`` for one training step, and the time
    of that step without the dispatch modes (the best of ``repeats`` on the
    same batch), both on ``clock``."""
    from compute_profile import CLOCKS, PartProfiler, train_step_profiled
    batch = next(batches)
    wrapper = step.optim_wrapper
    best, wall = float('inf'), None
    for _ in range(repeats):  # hooks only: the parts' own time
        timer = PartProfiler(model, ops=False, clock=clock)
        start = CLOCKS[clock]()
        with timer.profile():
            train_step_profiled(model, wrapper, batch, timer)
        elapsed = CLOCKS[clock]() - start
        if elapsed < best:
            best, wall = elapsed, dict(timer.wall)
    profiler = PartProfiler(model, ops=True, clock=clock)
    with profiler.profile():
        train_step_profiled(model, wrapper, batch, profiler)
    return profiler.table(wall), best


def main(argv=None) -> dict:
    args = parse_args(argv)
    ensure_package()
    from compute_profile import (breakdown_lines, conv_peak, format_flops,
                                 matmul_peak)
    cfg = load_run_config(args)
    model, device = build(cfg, args.checkpoint)
    results = dict(
        config=args.config,
        device=device,
        threads=args.threads,
        clock=args.clock)
    if 'peak' in args.analyses:
        results['matmul_peak'] = matmul_peak(args.matmul_size)
        results['conv_peak'] = conv_peak(tuple(args.conv_shape))
        results['matmul_peak_cpu'] = matmul_peak(args.matmul_size, cpu=True)
        results['conv_peak_cpu'] = conv_peak(tuple(args.conv_shape), cpu=True)
        print(f'peak: {format_flops(results["matmul_peak"])} GFLOP/s fp32 '
              f'matmul {args.matmul_size}^3, '
              f'{format_flops(results["conv_peak"])} GFLOP/s 3x3 conv on '
              f'{tuple(args.conv_shape)}; per CPU-second '
              f'{format_flops(results["matmul_peak_cpu"])} and '
              f'{format_flops(results["conv_peak_cpu"])}')
    for phase in args.phases:
        train = phase == 'train'
        step, batches, batch_size = phase_step(model, cfg, phase)
        res = dict(batch_size=batch_size)
        if 'speed' in args.analyses or 'flops' in args.analyses:
            res.update(
                time_steps(step, batches, args.iters, args.warmup, train,
                           device))
            print(f'{phase}: {res["images_per_s"]:.2f} images/s '
                  f'({res["mean_s"] * 1e3:.0f} ms/iter mean, '
                  f'{res["best_s"] * 1e3:.0f} best, batch {batch_size}, '
                  f'device {device})')
        if 'flops' in args.analyses:
            res.update(measure_flops(step, batches, train))
            res['flop_rate'] = res['flops'] / res['mean_s']
            res['flop_rate_cpu'] = res['flops'] / res['mean_cpu_s']
            what = 'forward + backward' if train else 'predict'
            print(f'{phase}: {format_flops(res["flops"])} GFLOP per step '
                  f'({what}), {format_flops(res["flops_per_image"])} GFLOP '
                  f'per image, {format_flops(res["flop_rate"])} GFLOP/s')
            if 'matmul_peak' in results:
                res['roofline_share'] = res['flop_rate'] / \
                    results['matmul_peak']
                res['roofline_share_cpu'] = res['flop_rate_cpu'] / \
                    results['matmul_peak_cpu']
                print(f'{phase}: {res["roofline_share"]:.0%} of the matmul '
                      f'peak (wall time), {res["roofline_share_cpu"]:.0%} '
                      'per CPU-second')
        if train and 'breakdown' in args.analyses:
            rows, step_time = measure_breakdown(
                model, step, batches, clock=args.clock)
            res['breakdown'] = rows
            res['breakdown_step_s'] = step_time
            print('\n'.join(breakdown_lines(rows, step_time)))
        results[phase] = res
    results['peak_memory_mb'] = _peak_memory_mb(device)
    print(f'peak memory: {results["peak_memory_mb"]:.0f} MiB '
          f'({"GPU allocated" if device == "cuda" else "process RSS"})')
    if args.out_json:
        with open(args.out_json, 'w') as f:
            json.dump(results, f, indent=2)
    return results


if __name__ == '__main__':
    main()
