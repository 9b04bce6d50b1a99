"""LLaVA conversation JSON: ``[{"id", "image", "conversations": [...]}]``."""
import re
from typing import Any, Optional, Tuple

from ..errors import DataError
from ..json_files import read_json

IMAGE_TOKEN = '<image>'


def load_llava_json(path: str) -> list:
    """Read a LLaVA-format JSON list or raise a :class:`DataError`."""
    entries = read_json(path, 'conversation file')
    if not isinstance(entries, list):
        raise DataError(f'{path}: expected a JSON list of LLaVA entries, got '
                        f'{type(entries).__name__}')
    return entries


def entry_name(entry: Any, index: int) -> str:
    """How a message names entry ``index``: ``entry 3 (id 'q3')``."""
    if isinstance(entry, dict):
        return f'entry {index} (id {entry.get("id")!r})'
    return f'entry {index}'


def field_kind(prefix: str, field: str) -> str:
    """A fault's kind for reports: ``conversations[3].value`` ->
    ``llava.conversations[].value``."""
    return f'{prefix}.' + re.sub(r'\[\d+\]', '[]', field)


def conversation_problem(
        entry: Any) -> Tuple[Optional[str], Optional[str]]:
    """``(problem, field)`` of a LLaVA entry, or ``(None, None)``.

    The rules LLaVA's own loader relies on: an object with a string
    ``image``; ``conversations`` a non-empty list of ``{"from", "value"}``
    objects alternating ``human`` / ``gpt`` (human first, answered last)
    with string values; exactly one ``<image>``, in the first human turn.
    """
    if not isinstance(entry, dict):
        return f'expected an object, got {type(entry).__name__}', '.'
    if not isinstance(entry.get('image'), str) or not entry['image']:
        return 'missing image file name', 'image'
    turns = entry.get('conversations')
    if not isinstance(turns, list) or not turns:
        return 'missing or empty', 'conversations'
    for t, turn in enumerate(turns):
        role = 'human' if t % 2 == 0 else 'gpt'
        field = f'conversations[{t}]'
        if not isinstance(turn, dict):
            return (f'expected {{"from": "{role}", "value": str}}, got '
                    f'{type(turn).__name__}'), field
        if turn.get('from') != role:
            return (f'expected "from": "{role}" (turns alternate human / '
                    f'gpt), got {turn.get("from")!r}'), field
        if not isinstance(turn.get('value'), str):
            got = 'nothing' if 'value' not in turn else \
                type(turn['value']).__name__
            return f'expected a string, got {got}', field + '.value'
    if len(turns) % 2:
        return 'ends with a human turn that has no answer', 'conversations'
    n = turns[0]['value'].count(IMAGE_TOKEN)
    if n != 1 or any(IMAGE_TOKEN in t['value'] for t in turns[1:]):
        return (f'the first human turn must hold exactly one "{IMAGE_TOKEN}" '
                f'(it holds {n}) and no other turn may'), \
            'conversations[0].value'
    return None, None
