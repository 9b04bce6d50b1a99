"""Evaluate a LLaVA-DetSeg checkpoint (the arguments of mmdet's tools/test.py).

One run reports the heads' metrics (COCO bbox mAP ``coco/``, mIoU and
boundary F1 ``seg/``), the text answers' (``text/``), VQA accuracy
(``vqa/``), the held-out conversations' answer loss (``conv/``) and the
VQA benchmarks of the config's test set (``configs/_base_/datasets/``:
VQAv2, GQA, ScienceQA-IMG, POPE, ...), ending with one summary table;
``--reference-checkpoint`` adds the forgetting per benchmark and
``--out-json`` writes it all.
"""
import argparse
import json
import os
import os.path as osp
import sys

from _bootstrap import ensure_package, missing_file
from mmengine.config import Config, DictAction


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Test (and evaluate) a LLaVA-DetSeg model')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument(
        '--work-dir', help='the dir to save the evaluation metrics')
    parser.add_argument(
        '--out', help='dump the predictions to a pickle file (.pkl)')
    parser.add_argument(
        '--show', action='store_true', help='show prediction results')
    parser.add_argument(
        '--show-dir',
        help='directory (inside the work dir\'s timestamp folder) where '
        'painted images are saved')
    parser.add_argument(
        '--show-interval', type=int, default=1,
        help='with --show / --show-dir: draw every N-th test sample '
        '(default 1: all)')
    parser.add_argument(
        '--wait-time', type=float, default=2, help='the interval of show (s)')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override config settings, e.g. '
        'test_dataloader.dataset.data_root=data/other/')
    parser.add_argument(
        '--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none', help='job launcher')
    parser.add_argument(
        '--reference-checkpoint',
        help='also report, per VQA benchmark, the reference score, this '
        'score and the relative drop (the forgetting rate) against this '
        'reference: a checkpoint evaluated with the same config, or the '
        'test_metrics.json / --out-json file of its test run')
    parser.add_argument(
        '--out-json',
        help='write the summary (every metric, and the forgetting table '
        'with --reference-checkpoint) to this JSON file')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def trigger_visualization_hook(cfg, args) -> None:
    """Turn on drawing, as mmdet's test tool does (every
    ``--show-interval``-th sample)."""
    hook = (cfg.get('default_hooks') or {}).get('visualization')
    if hook is None:
        raise RuntimeError('--show / --show-dir need a "visualization" entry '
                           'in default_hooks')
    hook['draw'] = True
    if args.show_interval != 1:
        if hook.get('type') not in ('mmdet.DetVisualizationHook',
                                    'DetVisualizationHook',
                                    'MultiTaskVisualizationHook'):
            raise RuntimeError(
                f'--show-interval needs default_hooks.visualization to be '
                f'MultiTaskVisualizationHook, not {hook.get("type")!r}')
        hook['type'] = 'MultiTaskVisualizationHook'
        hook['test_interval'] = args.show_interval
    if args.show:
        hook['show'] = True
        hook['wait_time'] = args.wait_time
    if args.show_dir:
        hook['test_out_dir'] = args.show_dir


def main() -> int:
    args = parse_args()
    ensure_package()

    from llava_detseg.datasets import DataError, error_summary
    from llava_detseg.evaluation import head_vs_text_lines, summary_lines
    from llava_detseg.evaluation.functional import (ForgettingError,
                                                    forgetting_rate,
                                                    forgetting_table)
    from llava_detseg.utils import (CheckpointLoadError, register_all_modules,
                                    setup_launcher)
    from llava_detseg.utils.runner import RunnerConfigError, build_runner

    if missing_file((args.config, 'config'),
                    (args.checkpoint, 'checkpoint')):
        return 2
    register_all_modules()
    cfg = Config.fromfile(args.config)
    cfg.launcher = args.launcher
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(args.config))[0])
    cfg.load_from = args.checkpoint
    if args.show_interval < 1:
        print(f'error: --show-interval must be >= 1, got '
              f'{args.show_interval}', file=sys.stderr)
        return 2
    if args.show or args.show_dir:
        trigger_visualization_hook(cfg, args)
    elif (cfg.get('default_hooks') or {}).get('visualization') is not None:
        # the configs draw every interval-th *validation* sample; mmdet's
        # hook would draw every test sample (16 s of a 53 s evaluation of
        # the shapes val split): a test run draws when asked, as in mmdet
        cfg.default_hooks.visualization['draw'] = False
    if args.out is not None:
        if not args.out.endswith(('.pkl', '.pickle')):
            print('error: --out must be a .pkl or .pickle file',
                  file=sys.stderr)
            return 2
        evaluators = cfg.test_evaluator
        if isinstance(evaluators, dict):
            evaluators = [evaluators]
        cfg.test_evaluator = list(evaluators) + [
            dict(type='DumpResults', out_file_path=args.out)
        ]
    setup_launcher(cfg)

    try:
        reference = None
        if args.reference_checkpoint is not None:
            reference = reference_metrics(cfg, args.reference_checkpoint)
        # FlexibleRunner (DeepSpeed / FSDP) when the config asks for it
        runner = build_runner(cfg)
        metrics = runner.test()
        table = None
        if reference is not None:
            table = forgetting_table(metrics, reference)
            metrics.update(forgetting_rate(metrics, reference))
    except DataError as e:
        print(f'error: {error_summary(e)}', file=sys.stderr)
        return 1
    except ForgettingError as e:
        print(f'error: {e}', file=sys.stderr)
        return 1
    except RunnerConfigError as e:
        print(f'error: {e}', file=sys.stderr)
        return 2
    except CheckpointLoadError as e:  # refused (weights_only) or truncated
        print(f'error: {e}', file=sys.stderr)
        return 1
    if runner.rank == 0:
        print('\n'.join(summary_lines(metrics, table) +
                        head_vs_text_lines(metrics)))
        with open(osp.join(runner.log_dir, 'test_metrics.json'), 'w') as f:
            json.dump(metrics, f, indent=2, default=str)
        if args.out_json:
            out_dir = osp.dirname(osp.abspath(args.out_json))
            os.makedirs(out_dir, exist_ok=True)
            with open(args.out_json, 'w') as f:
                json.dump(dict(metrics=metrics, forgetting=table), f,
                          indent=2, default=str)
            print(f'summary written to {args.out_json}')
    return 0


def reference_metrics(cfg, reference: str) -> dict:
    """Metrics of the reference: read from a .json, or a test run of the
    checkpoint with the same config (in its own work dir)."""
    from llava_detseg.datasets import DataError
    from llava_detseg.utils.runner import build_runner
    if not osp.isfile(reference):
        raise FileNotFoundError(
            f'--reference-checkpoint {reference} does not exist')
    if reference.endswith('.json'):
        with open(reference) as f:
            try:
                data = json.load(f)
            except json.JSONDecodeError as e:
                raise DataError(f'{reference}: not valid JSON ({e})') from None
        # test_metrics.json is flat; an --out-json summary nests them
        data = data.get('metrics', data) if isinstance(data, dict) else data
        if not isinstance(data, dict):
            raise DataError(f'{reference}: expected a JSON object of '
                            'metrics')
        return data
    ref_cfg = cfg.copy()
    ref_cfg.load_from = reference
    ref_cfg.work_dir = osp.join(cfg.work_dir, 'reference')
    ref_cfg.experiment_name = 'reference'
    return build_runner(ref_cfg).test()


if __name__ == '__main__':
    sys.exit(main())
