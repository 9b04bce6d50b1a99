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
