"""Training and inference speed (images/s) and peak memory of a config.

Example:
    python tools/analysis_tools/benchmark.py CONFIG --iters 30 --warmup 5
"""
import argparse
import os.path as osp
import resource
import sys
import time

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
from _bootstrap import ensure_package  # noqa: E402
from mmengine.config import Config, DictAction  # noqa: E402


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='config file')
    parser.add_argument('--checkpoint', help='weights to load (optional)')
    parser.add_argument('--iters', type=int, default=20,
                        help='timed iterations per phase')
    parser.add_argument('--warmup', type=int, default=3,
                        help='untimed iterations first')
    parser.add_argument('--phases', nargs='+', default=['train', 'predict'],
                        choices=['train', 'predict'])
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    return parser.parse_args()


def _peak_memory_mb(device: str) -> float:
    import torch
    if device == 'cuda':
        return torch.cuda.max_memory_allocated() / 2**20
    # ru_maxrss is in KiB on Linux: the process's peak resident memory
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _batches(loader):
    while True:
        yield from loader


def main() -> None:
    args = parse_args()
    ensure_package()
    import torch
    from mmengine.optim import build_optim_wrapper
    from mmengine.registry import init_default_scope
    from mmengine.runner import Runner, load_checkpoint

    from llava_detseg.registry import MODELS

    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    init_default_scope(cfg.get('default_scope', 'llava_detseg'))
    device = 'cuda' if torch.cuda.is_available() else 'cpu'
    model = MODELS.build(cfg.model).to(device)
    if args.checkpoint:
        load_checkpoint(model, args.checkpoint, map_location='cpu')
    results = {}
    for phase in args.phases:
        loader_cfg = cfg.train_dataloader if phase == 'train' else \
            cfg.test_dataloader
        loader = Runner.build_dataloader(loader_cfg, seed=0)
        batches = _batches(loader)
        if phase == 'train':
            model.train()
            wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
            step = lambda b: model.train_step(b, wrapper)  # noqa: E731
        else:
            model.eval()
            step = model.test_step
        images, elapsed = 0, 0.0
        for i in range(args.warmup + args.iters):
            batch = next(batches)
            if device == 'cuda':
                torch.cuda.synchronize()
            start = time.perf_counter()
            with torch.set_grad_enabled(phase == 'train'):
                step(batch)
            if device == 'cuda':
                torch.cuda.synchronize()
            if i >= args.warmup:
                elapsed += time.perf_counter() - start
                images += len(batch['data_samples'])
        results[phase] = images / elapsed
        print(f'{phase}: {images / elapsed:.2f} images/s over {images} '
              f'images ({elapsed / args.iters * 1000:.0f} ms/iter, batch '
              f'{loader_cfg.batch_size}, device {device})')
    print(f'peak memory: {_peak_memory_mb(device):.0f} MiB '
          f'({"GPU allocated" if device == "cuda" else "process RSS"})')


if __name__ == '__main__':
    main()
