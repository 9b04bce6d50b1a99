"""Reading model output in the ``<DET>`` / ``<SEG>`` format: what a
response holds and why items were dropped; never raises on model output."""
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, List, Optional, Tuple

import numpy as np

from .mask_polygons import rasterize_polygons
from .text_tokens import ANSWER_PREFIX, POLY_CLOSE, POLY_OPEN

if TYPE_CHECKING:
    from .text_codec import DetSegTextCodec

# Why an item of a block was dropped (one reason per dropped item, so the
# counts add up to the number of dropped items) or what was malformed.
FAILURE_KEYS = (
    'unclosed_tag',  # <DET>/<SEG>/<poly> without its closing tag
    'unopened_tag',  # a closing tag without its opening tag
    'unknown_class',  # class name not in the codec's classes
    'bad_loc_count',  # a box without exactly 4 locs, a polygon with odd locs
    'bad_loc',  # <loc_N> with N outside [0, num_bins)
    'inverted_box',  # x2 < x1 or y2 < y1
    'empty_polygon',  # a polygon with fewer than 3 vertices
    'garbage',  # anything else inside a block that is not the format
)

_LOC_RE = re.compile(r'<loc_(\d+)>')
_OPEN_RE = re.compile(r'<(DET|SEG)>')

ImgShape = Tuple[int, int]


@dataclass
class ParsedResponse:
    """What :meth:`DetSegTextCodec.decode` read from one response.

    Attributes:
        answer (str): The free text, without ``Answer:`` and the blocks.
        img_shape (tuple): ``(h, w)`` the coordinates were decoded for.
        bboxes (np.ndarray): (N, 4) float32 ``x1 y1 x2 y2`` in pixels.
        labels (np.ndarray): (N,) int64 indices into ``classes``.
        scores (np.ndarray): (N,) float32 rank scores from the written
            order: the box's class's place among the answer's classes times
            its place within its class (:func:`answer_rank_scores`).
        polygons (list): ``(seg label, (K, 2) float32 pixel-centre xy)``.
        has_det (bool): A ``<DET>`` block was present.
        has_seg (bool): A ``<SEG>`` block was present.
        failures (Counter): Count per :data:`FAILURE_KEYS` reason.
    """
    answer: str
    img_shape: ImgShape
    bboxes: np.ndarray
    labels: np.ndarray
    scores: np.ndarray
    polygons: List[Tuple[int, np.ndarray]]
    has_det: bool = False
    has_seg: bool = False
    failures: Counter = field(default_factory=Counter)

    @property
    def num_failures(self) -> int:
        return int(sum(self.failures.values()))

    @property
    def ok(self) -> bool:
        """Parsed without a single failure."""
        return self.num_failures == 0

    def render_sem_seg(self, background: int = 0) -> np.ndarray:
        """Rasterise the polygons into an (h, w) int64 label map.

        Polygons are painted largest first so that a region enclosed by
        another (whose hole was filled when encoding) is painted over it.
        """
        return rasterize_polygons(self.polygons, self.img_shape, background)


def parse_response(codec: 'DetSegTextCodec', text: str,
                   img_shape: ImgShape) -> ParsedResponse:
    """Parse a response with ``codec``'s classes and bins; never raises on
    model output.

    Args:
        text (str): The generated text.
        img_shape (tuple): Original ``(h, w)`` of the image.
    """
    failures: Counter = Counter()
    h, w = float(img_shape[0]), float(img_shape[1])
    if not isinstance(text, str):
        text = '' if text is None else str(text)
    blocks, outside = _split_blocks(text, failures)
    boxes, labels, polygons = [], [], []
    has = dict(DET=False, SEG=False)
    for kind, content in blocks:
        has[kind] = True
        if kind == 'DET':
            for item in _items(content):
                parsed = _parse_box(codec, item, w, h, failures)
                if parsed is not None:
                    boxes.append(parsed[1])
                    labels.append(parsed[0])
        else:
            for item in _items(content):
                polygons += _parse_region(codec, item, w, h, failures)
    answer = ' '.join(' '.join(outside).split())
    if answer.startswith(ANSWER_PREFIX):
        answer = answer[len(ANSWER_PREFIX):].strip()
    return ParsedResponse(
        answer=answer,
        img_shape=(int(img_shape[0]), int(img_shape[1])),
        bboxes=np.asarray(boxes, np.float32).reshape(-1, 4),
        labels=np.asarray(labels, np.int64),
        scores=answer_rank_scores(np.asarray(labels, np.int64)),
        polygons=polygons,
        has_det=has['DET'],
        has_seg=has['SEG'],
        failures=failures)

def answer_rank_scores(labels: np.ndarray) -> np.ndarray:
    """Rank scores from the order an answer writes its boxes: the i-th of
    the N_c boxes of class c gets ``(R - j) / R * (N_c - i) / N_c``, where
    c is the j-th of the R classes the answer names (by first appearance).

    Text has no scores, only an order, and COCO AP ranks each class's boxes
    across images. Grounded answers are written in class runs, the class
    whose best box the model is surest of first, then each class's boxes
    surest first (``GenerateTextInstructions(answer_order='confidence')``):
    a box's score is then its class's place (is the class there at all: a
    class named last is the one whose best box was weakest, as a class
    name put on another class's object is) times its place within its
    class. Within a class, the order is the one the model chose among the
    boxes COCO compares; one rank over the whole answer would put every
    box of the first class above every box of the second, an order of the
    format. Answers in a fixed class order (``answer_order='class'``) lose
    to this the ranking their class order does not carry.
    """
    labels = np.asarray(labels, np.int64)
    scores = np.zeros(len(labels), np.float32)
    classes = list(dict.fromkeys(labels.tolist()))  # first-appearance order
    for j, c in enumerate(classes):
        idx = np.flatnonzero(labels == c)
        within = np.arange(len(idx), 0, -1, dtype=np.float32) / len(idx)
        scores[idx] = within * (len(classes) - j) / len(classes)
    return scores


def _split_blocks(text: str, failures: Counter) -> tuple:
    """``([(kind, content)], [text outside blocks])``.

    A block ends at its closing tag or, if that is missing, at the next
    opening tag or the end of the text (counted as ``unclosed_tag``).
    """
    blocks, outside = [], []
    pos = 0
    while True:
        m = _OPEN_RE.search(text, pos)
        if m is None:
            outside.append(text[pos:])
            break
        outside.append(text[pos:m.start()])
        kind = m.group(1)
        start = m.end()
        close = text.find(f'</{kind}>', start)
        nxt = _OPEN_RE.search(text, start)
        if close >= 0 and (nxt is None or close < nxt.start()):
            blocks.append((kind, text[start:close]))
            pos = close + len(kind) + 3
        else:
            failures['unclosed_tag'] += 1
            end = nxt.start() if nxt is not None else len(text)
            blocks.append((kind, text[start:end]))
            pos = end
    for kind in ('DET', 'SEG'):
        stray = sum(o.count(f'</{kind}>') for o in outside)
        if stray:
            failures['unopened_tag'] += stray
    return blocks, outside

def _loc_values(codec, text: str, failures: Counter) -> Optional[list]:
    vals = [int(v) for v in _LOC_RE.findall(text)]
    if any(v >= codec.num_bins for v in vals):
        failures['bad_loc'] += 1
        return None
    return vals

def _parse_box(codec, item: str, w: float, h: float,
               failures: Counter) -> Optional[tuple]:
    name, rest = _name_and_rest(item)
    if _LOC_RE.sub('', rest).strip() or not rest:
        failures['garbage'] += 1
        return None
    if name not in codec._det_index:
        failures['unknown_class'] += 1
        return None
    vals = _loc_values(codec, rest, failures)
    if vals is None:
        return None
    if len(vals) != 4:
        failures['bad_loc_count'] += 1
        return None
    x1, y1, x2, y2 = vals
    if x2 < x1 or y2 < y1:
        failures['inverted_box'] += 1
        return None
    xs = codec.dequantize([x1, x2], w)
    ys = codec.dequantize([y1, y2], h)
    return codec._det_index[name], [xs[0], ys[0], xs[1], ys[1]]

def _parse_region(codec, item: str, w: float, h: float,
                  failures: Counter) -> List[tuple]:
    name, rest = _name_and_rest(item)
    if not rest.startswith(POLY_OPEN):
        failures['garbage'] += 1
        return []
    if name not in codec._seg_index:
        failures['unknown_class'] += 1
        return []
    label = codec._seg_index[name]
    out = []
    for piece in rest.split(POLY_OPEN)[1:]:
        inner, closed, tail = piece.partition(POLY_CLOSE)
        if not closed:
            failures['unclosed_tag'] += 1
        if tail.strip() or _LOC_RE.sub('', inner).strip():
            failures['garbage'] += 1
            continue
        vals = _loc_values(codec, inner, failures)
        if vals is None:
            continue
        if len(vals) % 2:
            failures['bad_loc_count'] += 1
            continue
        if len(vals) < 6:
            failures['empty_polygon'] += 1
            continue
        xy = np.asarray(vals, np.float64).reshape(-1, 2)
        # bin centre -> pixel-centre frame (pixel i has centre i)
        pts = np.stack([codec.dequantize(xy[:, 0], w),
                        codec.dequantize(xy[:, 1], h)], 1) - 0.5
        out.append((label, pts.astype(np.float32)))
    return out


def _items(content: str) -> List[str]:
    """Non-empty ``;``-separated items of a block."""
    return [s.strip() for s in content.split(';') if s.strip()]


def _name_and_rest(item: str) -> Tuple[str, str]:
    """Class name (text before the first ``<``, spaces collapsed), rest."""
    cut = item.find('<')
    if cut < 0:
        return ' '.join(item.split()), ''
    return ' '.join(item[:cut].split()), item[cut:].strip()
