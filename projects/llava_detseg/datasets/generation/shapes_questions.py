"""The LLaVA-style questions about one shapes image."""
from typing import Any, Dict, List, Sequence, Tuple

import numpy as np

from .shapes_image import CLASSES, COLOR_NAMES

PLURALS: Dict[str, str] = {
    'circle': 'circles',
    'square': 'squares',
    'triangle': 'triangles'
}


def make_questions(rng: np.random.Generator,
                   instances: Sequence[Dict[str, Any]]) -> List[Tuple[str,
                                                                      str]]:
    """4-6 distinct (question, answer) pairs about one image's instances.

    Kinds: counting (any class, so some answers are "0"), colour of a class
    present exactly once, and yes/no presence of a (colour, class) pair.
    Questions are drawn without replacement from per-kind pools. Each yes/no
    question's answer is a fresh coin flip (a yes/no is skipped rather than
    asked with the other answer when that pool is used up), which keeps
    yes/no balanced in expectation and independent within an image: with
    answers that alternated (generator 1.0), an image's earlier answers gave
    away the next one, and a model trained on an image's questions as the
    turns of one conversation (``MergeConversations``) learned that instead
    of reading the image, which answers every test question alone.
    """
    counts = [0] * len(CLASSES)
    present = set()
    for ins in instances:
        counts[ins['cls']] += 1
        present.add((ins['color'], ins['cls']))
    # Sorted before shuffling: set order must not leak into the RNG stream.
    order = lambda p: (p[1], COLOR_NAMES.index(p[0]))  # noqa: E731
    absent = [(col, c) for c in range(len(CLASSES)) for col in COLOR_NAMES
              if (col, c) not in present]
    pools: Dict[str, list] = {
        'count': list(range(len(CLASSES))),
        'color': [c for c in range(len(CLASSES)) if counts[c] == 1],
        'yes': sorted(present, key=order),
        'no': absent,
    }
    for key in pools:  # fixed key order -> deterministic
        perm = rng.permutation(len(pools[key]))
        pools[key] = [pools[key][i] for i in perm]

    n_q = int(rng.integers(4, 7))
    qa: List[Tuple[str, str]] = []
    for _ in range(n_q):
        next_yes = bool(rng.integers(2))
        kinds = [
            k for k, ok in (('count', pools['count']),
                            ('color', pools['color']),
                            ('yesno', pools['yes' if next_yes else 'no']))
            if ok
        ]
        if not kinds:
            break
        kind = kinds[int(rng.integers(len(kinds)))]
        if kind == 'count':
            c = pools['count'].pop()
            qa.append((f'How many {PLURALS[CLASSES[c]]} are there?',
                       str(counts[c])))
        elif kind == 'color':
            c = pools['color'].pop()
            color = next(i['color'] for i in instances if i['cls'] == c)
            qa.append((f'What color is the {CLASSES[c]}?', color))
        else:
            yes = next_yes
            col, c = pools['yes' if yes else 'no'].pop()
            qa.append((f'Is there a {col} {CLASSES[c]}?',
                       'yes' if yes else 'no'))
    return qa
