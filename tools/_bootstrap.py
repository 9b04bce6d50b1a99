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


def missing_file(*pairs) -> bool:
    """Print ``error: {what} file {path} does not exist`` for the first
    ``(path, what)`` pair that is not a file; whether there was one (a
    tool then exits with 2)."""
    for path, what in pairs:
        if not osp.isfile(path):
            print(f'error: {what} file {path} does not exist',
                  file=sys.stderr)
            return True
    return False


def load_config(path: str, cfg_options=None):
    """Register the project's modules and read a config, with the
    ``--cfg-options`` overrides merged."""
    from mmengine.config import Config
    from llava_detseg.utils import register_all_modules
    register_all_modules()
    cfg = Config.fromfile(path)
    if cfg_options is not None:
        cfg.merge_from_dict(cfg_options)
    return cfg
