"""Trainable vs total parameters of a config, per part.

Parts: backbone, neck, det head, seg head, projector, language model (with
``lm_head``), the adapters (per group) and anything else. ``--meta`` builds
the model on PyTorch's ``meta`` device from the bundled architecture configs
(``llava_detseg.utils.meta_build``): no weights are read or downloaded, so
the full-size config (CLIP ViT-L/14-336 + 7B) is counted on any machine.

Example:
    python tools/analysis_tools/count_params.py \
        configs/lora/llava-detseg_clip-l14-336_vicuna-7b_lora.py --meta \
        --max-trainable-ratio 0.05
"""
import argparse
import os.path as osp
import sys
from collections import OrderedDict
from typing import Dict, Tuple

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
from _bootstrap import ensure_package  # noqa: E402
from mmengine.config import Config, DictAction  # noqa: E402

PARTS = OrderedDict([
    ('backbone', ('backbone.', )),
    ('neck', ('neck.', )),
    ('det head', ('det_head.', )),
    ('seg head', ('seg_head.', )),
    ('projector', ('language.llava.model.multi_modal_projector.', )),
    ('language model', ('language.', )),
])


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='config file')
    parser.add_argument(
        '--meta', action='store_true',
        help='build on the meta device: no weights, no download')
    parser.add_argument(
        '--max-trainable-ratio', type=float,
        help='exit with status 1 when trainable / total exceeds it')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    return parser.parse_args()


def count(model) -> Dict[str, Tuple[int, int]]:
    """``{part: (trainable, total)}``; adapters are counted apart from the
    part they sit in, per group (``adapters/<group>``)."""
    from llava_detseg.models.adapters import adapter_group
    rows: Dict[str, list] = OrderedDict((p, [0, 0]) for p in PARTS)
    rows['other'] = [0, 0]
    for name, param in model.named_parameters():
        group = adapter_group(name)
        if group is not None:
            key = f'adapters/{group}'
        else:
            key = next((p for p, prefixes in PARTS.items()
                        if name.startswith(prefixes)), 'other')
        row = rows.setdefault(key, [0, 0])
        row[0] += param.numel() if param.requires_grad else 0
        row[1] += param.numel()
    return OrderedDict((k, tuple(v)) for k, v in rows.items() if v[1])


def format_table(rows: Dict[str, Tuple[int, int]]) -> str:
    """Rows plus adapters and totals, with the trainable share."""
    trainable = sum(t for t, _ in rows.values())
    total = sum(n for _, n in rows.values())
    adapters = [sum(v[i] for k, v in rows.items()
                    if k.startswith('adapters/')) for i in (0, 1)]
    lines = [f'{"part":<20}{"trainable":>16}{"total":>16}']
    for key, (t, n) in rows.items():
        lines.append(f'{key:<20}{t:>16,}{n:>16,}')
    lines.append(f'{"adapters (all)":<20}{adapters[0]:>16,}{adapters[1]:>16,}')
    lines.append(f'{"total":<20}{trainable:>16,}{total:>16,}')
    lines.append(f'trainable: {trainable:,} of {total:,} = '
                 f'{100.0 * trainable / max(total, 1):.3f} %')
    return '\n'.join(lines)


def main() -> int:
    args = parse_args()
    ensure_package()
    from mmengine.registry import init_default_scope

    from llava_detseg.registry import MODELS
    from llava_detseg.utils import register_all_modules

    register_all_modules()
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    init_default_scope(cfg.get('default_scope', 'llava_detseg'))
    if args.meta:
        try:
            from llava_detseg.utils import meta_build
        except ImportError:
            print('error: --meta needs llava_detseg.utils.meta_build',
                  file=sys.stderr)
            return 2
        with meta_build():
            model = MODELS.build(cfg.model)
    else:
        model = MODELS.build(cfg.model)
    rows = count(model)
    print(f'config: {args.config}' + (' (meta device)' if args.meta else ''))
    print(format_table(rows))
    trainable = sum(t for t, _ in rows.values())
    total = sum(n for _, n in rows.values())
    if args.max_trainable_ratio is not None and \
            trainable > args.max_trainable_ratio * total:
        print(f'error: trainable share {trainable / total:.4f} exceeds '
              f'--max-trainable-ratio {args.max_trainable_ratio}',
              file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
