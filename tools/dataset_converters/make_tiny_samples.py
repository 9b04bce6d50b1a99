"""Write a tiny COCO / ADE20K / LLaVA-Instruct tree for the tiny twin.

The tree has the layout the full config expects under ``data/`` (see
data/README.md), with a few generated images, so
``configs/llava-detseg_clip-tiny_llama-tiny_2xb2-2e_coco-ade-llava-tiny.py``
trains and evaluates the full config's structure on a CPU in a minute.

Example:
    python tools/dataset_converters/make_tiny_samples.py --out-dir data/tiny
"""
import argparse
import os.path as osp
import sys
from typing import Optional

try:
    import llava_detseg  # noqa: F401
except ImportError:
    sys.path.insert(
        0, osp.join(osp.dirname(osp.abspath(__file__)), '..', '..',
                    'projects'))

from llava_detseg.datasets.generation.formats import \
    write_tiny_tree  # noqa: E402


def main(argv: Optional[list] = None) -> int:
    parser = argparse.ArgumentParser(
        description='Tiny COCO / ADE20K / LLaVA-Instruct samples in the '
        'full layout')
    parser.add_argument('--out-dir', default='data/tiny')
    parser.add_argument('--num-train', type=int, default=4)
    parser.add_argument('--num-val', type=int, default=2)
    args = parser.parse_args(argv)
    paths = write_tiny_tree(args.out_dir, args.num_train, args.num_val)
    for name, path in paths.items():
        print(f'{name}: {path}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
