"""The tokens and separators of the ``<DET>`` / ``<SEG>`` text format
(``docs/text_format.md``), shared by the codec, its parser and the
constrained decoder."""
from typing import List

DET_OPEN, DET_CLOSE = '<DET>', '</DET>'
SEG_OPEN, SEG_CLOSE = '<SEG>', '</SEG>'
POLY_OPEN, POLY_CLOSE = '<poly>', '</poly>'
ANSWER_PREFIX = 'Answer:'
NUM_BINS = 1000
ITEM_SEP = '; '


def special_tokens(num_bins: int = NUM_BINS) -> List[str]:
    """Every token the format needs, in a fixed order (tags then locs)."""
    return [DET_OPEN, DET_CLOSE, SEG_OPEN, SEG_CLOSE, POLY_OPEN, POLY_CLOSE
            ] + [f'<loc_{i}>' for i in range(num_bins)]
