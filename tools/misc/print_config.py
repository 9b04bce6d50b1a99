"""Print the whole config after inheritance (mmdet's tools/misc/print_config.py).

Example:
    python tools/misc/print_config.py configs/llava_detseg.py \\
        --cfg-options train_dataloader.batch_size=2 --save-path full.py
"""
import argparse
import os
import os.path as osp
import sys
from typing import Optional

from mmengine.config import Config, DictAction


def parse_args(argv: Optional[list] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Print the whole config')
    parser.add_argument('config', help='config file path')
    parser.add_argument(
        '--save-path',
        default=None,
        help='save the whole config to this .py, .json or .yml file')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override some settings in the used config, the key-value pair '
        'in xxx=yyy format will be merged into config file. If the value to '
        'be overwritten is a list, it should be like key="[a,b]" or key=a,b '
        'It also allows nested list/tuple values, e.g. key="[(a,b),(c,d)]" '
        'Note that the quotation marks are necessary and that no white space '
        'is allowed.')
    return parser.parse_args(argv)


def main(argv: Optional[list] = None) -> int:
    args = parse_args(argv)
    if not osp.isfile(args.config):
        print(f'error: config file {args.config} does not exist',
              file=sys.stderr)
        return 2
    cfg = Config.fromfile(args.config)
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    print(f'Config:\n{cfg.pretty_text}')
    if args.save_path is not None:
        suffix = osp.splitext(args.save_path)[-1]
        if suffix not in ('.py', '.json', '.yml', '.yaml'):
            print(f'error: --save-path {args.save_path}: the suffix must be '
                  '.py, .json or .yml', file=sys.stderr)
            return 2
        folder = osp.dirname(osp.abspath(args.save_path))
        os.makedirs(folder, exist_ok=True)
        cfg.dump(args.save_path)
        print(f'Config saving at {args.save_path}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
