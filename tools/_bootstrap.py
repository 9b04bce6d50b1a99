"""Let the tools run from a checkout that was not ``pip install -e``-ed.

``python tools/train.py`` puts ``tools/`` on ``sys.path``, not the repository
root, so the package is found through ``projects/`` when it is not installed.
"""
import os.path as osp
import sys


def ensure_package() -> None:
    """Import ``llava_detseg`` from the installed package or ``projects/``."""
    try:
        import llava_detseg  # noqa: F401
    except ImportError:
        root = osp.dirname(osp.dirname(osp.abspath(__file__)))
        sys.path.insert(0, osp.join(root, 'projects'))
        import llava_detseg  # noqa: F401
