"""Reading the datasets' JSON files, with errors that name the file."""
import json
import os.path as osp
from typing import Any, List

from .errors import DataError


def read_json(path: str, what: str) -> Any:
    """A JSON file, or a :class:`DataError` naming it (``what``: how the
    message calls a missing file, e.g. ``'annotation file'``)."""
    if not osp.isfile(path):
        raise DataError(f'{path}: {what} not found')
    try:
        with open(path, encoding='utf-8') as f:
            return json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise DataError(f'{path}: not valid JSON ({e})') from None


def read_jsonl(path: str, what: str) -> List[Any]:
    """One JSON object per line (POPE, LLaVA's question files), or a
    :class:`DataError` naming the file and the line."""
    if not osp.isfile(path):
        raise DataError(f'{path}: {what} not found')
    out = []
    with open(path, encoding='utf-8') as f:
        for num, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError as e:
                raise DataError(f'{path}: line {num} is not valid JSON '
                                f'({e})') from None
    return out
