"""Test access to the published-format sample writers."""
from llava_detseg.datasets.generation.formats import (  # noqa: F401
    COCO_CATS, llava_entries, write_ade, write_coco, write_json,
    write_tiny_tree)
