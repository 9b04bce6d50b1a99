"""Check a config's datasets against their formats' rules, without a model.

Builds each dataset of the chosen splits as training would (the COCO,
semantic-map and LLaVA checks of ``llava_detseg.datasets.validation`` run at
load time), then decodes every image and semantic map through the config's
own loading steps (``LoadImageWithCheck``, the annotation loader,
``CheckSemanticMap``), with every fault counted instead of raised. Prints the
faults per kind with the first examples.

Exit code: 0 when clean, 1 when a fault was found, 2 on a usage error.

Example:
    python tools/misc/check_dataset.py configs/llava_detseg.py --split all
    python tools/misc/check_dataset.py CONFIG --split val --cfg-options \\
        val_dataloader.dataset.data_root=data/other/
"""
import argparse
import copy
import inspect
import os.path as osp
import sys
from collections import OrderedDict
from typing import Dict, List, Optional, Tuple

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
from _bootstrap import ensure_package  # noqa: E402

SPLITS = ('train', 'val', 'test')
# the pipeline steps that read and check files; the rest (resizing,
# packing, text) has nothing to check
KEEP = ('Load', 'Check')


def parse_args(argv: Optional[list] = None) -> argparse.Namespace:
    from mmengine.config import DictAction
    parser = argparse.ArgumentParser(
        description='Check the datasets of a config (every image and map '
        'decoded) and report the faults')
    parser.add_argument('config', help='config file path')
    parser.add_argument('--split', choices=SPLITS + ('all', ),
                        default='all', help='which dataloaders to check')
    parser.add_argument('--max-examples', type=int, default=3,
                        help='examples printed per kind of fault')
    parser.add_argument('--no-progress', action='store_true',
                        help='no progress bar')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override config settings, e.g. '
        'train_dataloader.dataset.data_root=data/other/')
    return parser.parse_args(argv)


def _accepts(type_name: str, arg: str) -> bool:
    """Whether the registered ``type_name`` takes ``arg``."""
    from llava_detseg.registry import DATASETS, TRANSFORMS
    for registry in (DATASETS, TRANSFORMS):
        cls = registry.get(type_name)
        if cls is not None:
            return arg in inspect.signature(cls.__init__).parameters
    return False


def check_pipeline(pipeline: list) -> list:
    """The loading and checking steps of ``pipeline``, skipping on faults,
    with ``CheckSemanticMap`` after an annotation loader that lacks it."""
    steps = []
    for step in pipeline:
        step = copy.deepcopy(step)
        kind = step['type'] if isinstance(step['type'], str) else ''
        if not any(k in kind for k in KEEP):
            continue
        if kind.endswith('LoadImageFromFile'):
            step = dict(type='LoadImageWithCheck')
        if _accepts(kind, 'on_error') or kind == 'LoadImageWithCheck':
            step['on_error'] = 'skip'
        steps.append(step)
    names = [s['type'] for s in steps]
    if 'CheckSemanticMap' not in names:
        loaders = [i for i, n in enumerate(names) if 'LoadAnnotations' in n]
        if loaders:
            steps.insert(loaders[-1] + 1,
                         dict(type='CheckSemanticMap', on_error='skip'))
    return steps


def dataset_parts(cfg, splits: Tuple[str, ...]) -> 'OrderedDict':
    """``{name: dataset config}``: one per split, a mixture's parts apart,
    each configuration once (``test_dataloader = val_dataloader``)."""
    parts: 'OrderedDict[str, dict]' = OrderedDict()
    seen: List[dict] = []
    for split in splits:
        loader = cfg.get(f'{split}_dataloader')
        if not loader:
            continue
        ds = loader['dataset']
        inner = ds.get('datasets')
        if inner is not None:
            items = inner.items() if isinstance(inner, dict) else \
                enumerate(inner)
            named = [(f'{split}/{k}', d) for k, d in items if d is not None]
        else:
            named = [(split, ds)]
        for name, d in named:
            d = d.to_dict() if hasattr(d, 'to_dict') else dict(d)
            if d in seen:
                continue
            seen.append(d)
            parts[name] = d
    return parts


class Faults:
    """Faults by kind, with the first examples of each."""

    def __init__(self, max_examples: int = 3) -> None:
        self.max_examples = max_examples
        self.counts: Dict[str, int] = {}
        self.examples: Dict[str, List[str]] = {}

    def add(self, kind: str, message: str) -> None:
        self.counts[kind] = self.counts.get(kind, 0) + 1
        shown = self.examples.setdefault(kind, [])
        if len(shown) < self.max_examples:
            shown.append(message)

    def add_errors(self, errors) -> None:
        from llava_detseg.datasets import error_summary
        for e in errors:
            self.add(getattr(e, 'kind', '') or 'data', error_summary(e))

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def check_part(ds_cfg: dict, faults: Faults, progress: bool = True) -> int:
    """Build one dataset and run its checking steps on every sample;
    returns the number of samples checked."""
    from mmcv.transforms import Compose
    from mmengine.utils import ProgressBar

    from llava_detseg.datasets import DataError, error_summary
    from llava_detseg.registry import DATASETS
    ds_cfg = copy.deepcopy(ds_cfg)
    steps = check_pipeline(ds_cfg.get('pipeline', []))
    ds_cfg['pipeline'] = []
    if _accepts(ds_cfg['type'], 'on_error'):
        ds_cfg['on_error'] = 'skip'
    try:
        dataset = DATASETS.build(ds_cfg)
    except DataError as e:  # the file as a whole is unusable
        faults.add(getattr(e, 'kind', '') or 'file', error_summary(e))
        return 0
    policy = getattr(dataset, 'policy', None)
    if policy is not None:
        faults.add_errors(policy.errors)
    pipeline = Compose(steps)
    bar = ProgressBar(len(dataset)) if progress else None
    for i in range(len(dataset)):
        info = dataset.get_data_info(i)
        try:
            pipeline(info)
        except DataError as e:
            faults.add(getattr(e, 'kind', '') or 'data', error_summary(e))
        except Exception as e:  # noqa: BLE001 - report, then check the rest
            faults.add('unexpected', f'{info.get("img_path")}: '
                       f'{type(e).__name__}: {e}')
        if bar is not None:
            bar.update()
    if bar is not None:
        print()
    for step in pipeline.transforms:
        step_policy = getattr(step, 'policy', None)
        if step_policy is not None:
            faults.add_errors(step_policy.errors)
    return len(dataset)


def report(name: str, ds_cfg: dict, num: int, faults: Faults) -> List[str]:
    """The lines printed for one dataset."""
    where = ds_cfg.get('ann_file') or ds_cfg.get('data_prefix') or ''
    lines = [f'{name} ({ds_cfg["type"]}, {ds_cfg.get("data_root", "")}'
             f'{where}): {num} samples, {faults.total} faults']
    for kind, n in sorted(faults.counts.items(), key=lambda kv: -kv[1]):
        lines.append(f'  {kind}: {n}')
        lines += [f'    {m}' for m in faults.examples[kind]]
    return lines


def main(argv: Optional[list] = None) -> int:
    args = parse_args(argv)
    if not osp.isfile(args.config):
        print(f'error: config file {args.config} does not exist',
              file=sys.stderr)
        return 2
    ensure_package()
    from mmengine.config import Config
    from mmengine.registry import init_default_scope

    from llava_detseg.utils import register_all_modules
    register_all_modules()
    init_default_scope('llava_detseg')
    cfg = Config.fromfile(args.config)
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    splits = SPLITS if args.split == 'all' else (args.split, )
    parts = dataset_parts(cfg, splits)
    if not parts:
        print(f'error: {args.config} has no {"/".join(splits)} dataloader',
              file=sys.stderr)
        return 2
    # every skip is also logged as a warning: the report says it once
    from mmengine.logging import MMLogger
    MMLogger.get_current_instance().setLevel('ERROR')
    total = 0
    for name, ds_cfg in parts.items():
        faults = Faults(args.max_examples)
        num = check_part(ds_cfg, faults, progress=not args.no_progress)
        print('\n'.join(report(name, ds_cfg, num, faults)), flush=True)
        total += faults.total
    print(f'{"clean" if not total else f"{total} faults"} in '
          f'{len(parts)} dataset(s)')
    return 1 if total else 0


if __name__ == '__main__':
    sys.exit(main())
