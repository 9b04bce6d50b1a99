"""Command-line pieces the three demos share: model and generation flags,
the package import from a checkout, and one-line failures."""
import argparse
import os.path as osp
import sys

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))


def add_model_args(parser: argparse.ArgumentParser,
                   device: str = 'cpu') -> None:
    """``model``, ``--weights``, ``--device``, ``--load-4bit|--load-8bit``."""
    parser.add_argument(
        'model', help='a config file, or a folder exported by '
        'tools/model_converters/merge_lora.py')
    parser.add_argument(
        '--weights', help='checkpoint (.pth) to load into the config\'s model')
    parser.add_argument(
        '--device', default=device,
        help='e.g. cpu, cuda:0' + ('' if device else ' (default: cuda:0 when '
                                   'available, else cpu)'))
    quant = parser.add_mutually_exclusive_group()
    quant.add_argument('--load-4bit', action='store_true',
                       help='load the language model in 4 bit (CUDA)')
    quant.add_argument('--load-8bit', action='store_true',
                       help='load the language model in 8 bit (CUDA)')


def add_generation_args(parser: argparse.ArgumentParser,
                        max_new_tokens=None) -> None:
    """LLaVA's ``--max-new-tokens``, ``--temperature``, ``--top-p``."""
    parser.add_argument(
        '--max-new-tokens', type=int, default=max_new_tokens,
        help='most tokens per answer (default: ' +
        ('the model\'s)' if max_new_tokens is None else f'{max_new_tokens})'))
    parser.add_argument('--temperature', type=float, default=0.0,
                        help='sampling temperature; 0 decodes greedily')
    parser.add_argument('--top-p', type=float, default=1.0,
                        help='nucleus sampling threshold')


def fail(prog: str, msg: str, code: int = 2) -> None:
    """One line on stderr naming the script, then exit."""
    print(f'{prog}: error: {msg}', file=sys.stderr, flush=True)
    sys.exit(code)


def ensure_package() -> None:
    """Import ``llava_detseg`` from the installed package or ``projects/``."""
    try:
        import llava_detseg  # noqa: F401
    except ImportError:
        sys.path.insert(0, osp.join(ROOT, 'projects'))
