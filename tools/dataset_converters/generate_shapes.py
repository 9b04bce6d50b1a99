"""Generate the synthetic "shapes" dataset (the project's default data).

Example:
    python tools/dataset_converters/generate_shapes.py --out-dir data/shapes

Regeneration is skipped when ``<out-dir>/meta.json`` already records the same
generator version, seed, split sizes and image-size range (pass ``--force``
to regenerate anyway).
"""
import argparse
import json
import os.path as osp
import sys
from typing import Any, Dict, Optional

try:
    import llava_detseg  # noqa: F401
except ImportError:
    # Not pip-installed: use the repository's ``projects/`` folder.
    sys.path.insert(
        0, osp.join(osp.dirname(osp.abspath(__file__)), '..', '..',
                    'projects'))

from llava_detseg.datasets.generation.shapes import (  # noqa: E402
    GENERATOR_VERSION, build_meta, generate_shapes)

# meta.json keys that must match for a cached dataset to be reused.
_CACHE_KEYS = ('version', 'seed', 'num_train', 'num_val', 'min_size',
               'max_size', 'bg_gray')


def parse_args(argv: Optional[list] = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(
        description='Generate the synthetic shapes dataset '
        f'(generator v{GENERATOR_VERSION}).')
    parser.add_argument('--out-dir', default='data/shapes')
    parser.add_argument('--num-train', type=int, default=2000)
    parser.add_argument('--num-val', type=int, default=200)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--min-size', type=int, default=96)
    parser.add_argument('--max-size', type=int, default=192)
    parser.add_argument(
        '--bg-gray', type=float, nargs=2, metavar=('LO', 'HI'),
        help='gray-level range of every background kind (default: 45-215, '
        '60-200 for the noise kind); held-out splits draw other ranges')
    parser.add_argument(
        '--force', action='store_true',
        help='regenerate even if a matching meta.json exists')
    parser.add_argument(
        '--no-progress', action='store_true', help='hide progress bars')
    return parser.parse_args(argv)


def _cached_meta(out_dir: str, wanted: Dict[str, Any]) -> Optional[dict]:
    """The existing meta.json if it matches ``wanted``, else None."""
    path = osp.join(out_dir, 'meta.json')
    if not osp.isfile(path):
        return None
    try:
        with open(path, encoding='utf-8') as f:
            meta = json.load(f)
    except (OSError, ValueError):
        return None
    if all(meta.get(k) == wanted[k] for k in _CACHE_KEYS):
        return meta
    return None


def main(argv: Optional[list] = None) -> Dict[str, Any]:
    """Run the generator (or report the cached dataset); return summary."""
    args = parse_args(argv)
    wanted = build_meta(args.seed, args.num_train, args.num_val,
                        args.min_size, args.max_size, args.bg_gray)
    meta = None if args.force else _cached_meta(args.out_dir, wanted)
    if meta is not None:
        summary = dict(meta.get('summary', {}), out_dir=args.out_dir,
                       seed=args.seed, version=meta['version'], cached=True)
        print(f'{args.out_dir} is up to date (matching meta.json); '
              'use --force to regenerate.')
    else:
        summary = generate_shapes(
            args.out_dir,
            num_train=args.num_train,
            num_val=args.num_val,
            seed=args.seed,
            min_size=args.min_size,
            max_size=args.max_size,
            bg_gray=args.bg_gray,
            progress=not args.no_progress)
        summary['cached'] = False
    print(json.dumps(summary, indent=2))
    return summary


if __name__ == '__main__':
    main()
