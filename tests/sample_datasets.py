"""Test access to the published-format sample writers."""
from llava_detseg.datasets.generation.formats import (  # noqa: F401
    COCO_CATS, llava_entries, write_ade, write_coco, write_json,
    write_tiny_tree)


def rebase_paths(node, old: str, new: str):
    """``node`` (a config piece) with every string path under ``old`` moved
    to ``new``."""
    if isinstance(node, dict):
        return {k: rebase_paths(v, old, new) for k, v in node.items()}
    if isinstance(node, (list, tuple)):
        return type(node)(rebase_paths(v, old, new) for v in node)
    if isinstance(node, str) and node.startswith(old):
        return new + node[len(old):]
    return node


def twin_config(path: str, ckpt: dict, root: str):
    """A tiny-tree config (the full config's twins) with its checkpoints and
    the data written afresh under ``root`` (``data/tiny/`` rebased there)."""
    from mmengine.config import Config
    write_tiny_tree(root)
    cfg = Config.fromfile(path)
    cfg.model.backbone.pretrained = ckpt['clip']
    cfg.model.language.pretrained = ckpt['llava']
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader',
                'val_evaluator', 'test_evaluator'):
        node = cfg[key]
        node = node.to_dict() if hasattr(node, 'to_dict') else list(node)
        cfg[key] = rebase_paths(node, 'data/tiny/', root + '/')
    return cfg
