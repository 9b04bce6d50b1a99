"""Train a LLaVA-DetSeg model (the arguments of mmdet's tools/train.py)."""
import argparse
import os
import os.path as osp
import sys

from _bootstrap import ensure_package
from mmengine.config import Config, DictAction


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Train a LLaVA-DetSeg model')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument(
        '--amp', action='store_true',
        help='enable automatic mixed precision (bf16 without CUDA)')
    parser.add_argument(
        '--auto-scale-lr', action='store_true',
        help='scale the learning rate with the total batch size')
    parser.add_argument(
        '--resume', nargs='?', type=str, const='auto',
        help='resume from the given checkpoint, or from the latest one in '
        'the work dir when no path is given')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override config settings, e.g. train_cfg.max_epochs=2')
    parser.add_argument(
        '--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none', help='job launcher')
    # torchrun sets LOCAL_RANK; torch.distributed.launch passes one of these
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def main() -> int:
    args = parse_args()
    ensure_package()

    from llava_detseg.datasets import DataError, error_summary
    from llava_detseg.engine import TrainingStopped
    from llava_detseg.utils import (CheckpointLoadError, register_all_modules,
                                    setup_launcher)
    from llava_detseg.utils.runner import RunnerConfigError, build_runner

    if not osp.isfile(args.config):
        print(f'error: config file {args.config} does not exist',
              file=sys.stderr)
        return 2
    register_all_modules()
    cfg = Config.fromfile(args.config)
    cfg.launcher = args.launcher
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    # work_dir priority: CLI > config > ./work_dirs/<config name>
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(args.config))[0])
    if args.amp:
        problem = setup_amp(cfg)
        if problem:
            print(f'error: {problem}', file=sys.stderr)
            return 2
    if args.auto_scale_lr:
        if 'auto_scale_lr' not in cfg or 'base_batch_size' not in \
                cfg.auto_scale_lr:
            print('error: --auto-scale-lr needs auto_scale_lr.base_batch_size'
                  ' in the config', file=sys.stderr)
            return 2
        cfg.auto_scale_lr.enable = True
    if args.resume == 'auto':
        cfg.resume, cfg.load_from = True, None
    elif args.resume is not None:
        cfg.resume, cfg.load_from = True, args.resume
    setup_launcher(cfg)

    try:
        # FlexibleRunner (DeepSpeed / FSDP) when the config asks for it
        runner = build_runner(cfg)
        runner.train()
    except DataError as e:
        print(f'error: {error_summary(e)}', file=sys.stderr)
        return 1
    except RunnerConfigError as e:
        print(f'error: {e}', file=sys.stderr)
        return 2
    except (TrainingStopped, CheckpointLoadError) as e:
        # a non-finite loss / gradient, a failed checkpoint write, or a
        # --resume / load_from checkpoint that is refused or truncated
        print(f'error: {e}', file=sys.stderr)
        return 1
    return 0


def setup_amp(cfg):
    """Mixed precision as mmdet sets it; bf16 autocast on a CPU
    (``AutocastOptimWrapper``).

    Only a plain ``OptimWrapper`` becomes an ``AmpOptimWrapper``: replacing
    another type (PCGrad, GradNorm, ...) would silently drop what it does,
    so that is refused. Returns the refusal, or None.
    """
    import torch
    wrapper = cfg.optim_wrapper
    kind = wrapper.get('type', 'OptimWrapper')
    if kind == 'AmpOptimWrapper':
        return None
    if kind != 'OptimWrapper':
        return (f'--amp would replace optim_wrapper.type="{kind}" with '
                'AmpOptimWrapper and lose what it does; train it without '
                '--amp, or give the config an AMP variant of it')
    if torch.cuda.is_available():
        wrapper.type = 'AmpOptimWrapper'
        wrapper.loss_scale = 'dynamic'
    else:
        # AmpOptimWrapper asserts a GPU; bf16 autocast needs no scaler
        wrapper.type = 'AutocastOptimWrapper'
        wrapper.dtype = 'bfloat16'
    return None


if __name__ == '__main__':
    sys.exit(main())
