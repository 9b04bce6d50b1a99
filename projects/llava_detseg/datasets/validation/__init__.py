"""Load-time checks of the data formats, one module per format.

Each check names the file, the sample and the field of a fault (a
:class:`~llava_detseg.datasets.errors.DataError`), before mmdet or mmseg
see the data. The datasets and loading transforms call them;
``tools/misc/check_dataset.py`` runs them alone over a whole config.
"""
from .coco import load_coco_json, validate_coco
from .conversations import (conversation_problem, entry_name, field_kind,
                            load_llava_json)
from .images import image_size_problem
from .semantic import decode_semantic_map, map_problem

__all__ = [
    'load_coco_json', 'validate_coco', 'conversation_problem', 'entry_name',
    'field_kind',
    'load_llava_json', 'image_size_problem', 'decode_semantic_map',
    'map_problem'
]
