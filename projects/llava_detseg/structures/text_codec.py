"""Detections and masks as text: the ``<DET>`` / ``<SEG>`` codec.

The contract (documented in ``docs/text_format.md``)::

    Answer: {text} <DET>{class} <loc_x1><loc_y1><loc_x2><loc_y2>; ...</DET>
                   <SEG>{class} <poly><loc_x><loc_y>...</poly>; ...</SEG>

* Coordinates are relative to the ORIGINAL image width / height and
  floor-quantised into ``num_bins`` (1000) bins: ``bin = floor(x / W * 1000)``
  clipped to ``[0, 999]``; a bin decodes to its centre
  ``(bin + 0.5) / 1000 * W``. A decoded coordinate is therefore never more
  than half a bin (``W / 2000``) from the encoded one.
* Boxes are ``x1 y1 x2 y2`` in mmdet's continuous pixel frame, ordered by
  descending score, at most ``max_boxes`` of them. Text has no scores: the
  decoder gives the i-th of N boxes the rank score ``(N - i) / N`` so that
  COCO's ranking sees the order the model wrote.
* Polygons are traced on a label map (a semantic map): one ``<poly>`` per
  connected region (8-connectivity, OpenCV ``findContours`` with
  ``RETR_EXTERNAL``), simplified by ``approxPolyDP`` with ``tolerance``
  pixels; while a polygon has more than ``max_vertices`` vertices the
  tolerance grows by 1.5x. Vertices are pixel centres. **Holes are filled**:
  only outer contours are written. A region of another class inside a hole
  survives because the decoder paints polygons in order of decreasing area
  (an enclosed region is always smaller than its encloser); a hole of
  background is lost. Regions smaller than ``min_region_area`` pixels are
  not written.
* Decoding never raises on model output. It returns what it could parse and
  counts, per reason, what it could not (see :data:`FAILURE_KEYS`).
"""
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np

DET_OPEN, DET_CLOSE = '<DET>', '</DET>'
SEG_OPEN, SEG_CLOSE = '<SEG>', '</SEG>'
POLY_OPEN, POLY_CLOSE = '<poly>', '</poly>'
ANSWER_PREFIX = 'Answer:'
NUM_BINS = 1000
ITEM_SEP = '; '

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
_RESERVED = ('<', '>', ';')

ImgShape = Tuple[int, int]


def special_tokens(num_bins: int = NUM_BINS) -> List[str]:
    """Every token the format needs, in a fixed order (tags then locs)."""
    return [DET_OPEN, DET_CLOSE, SEG_OPEN, SEG_CLOSE, POLY_OPEN, POLY_CLOSE
            ] + [f'<loc_{i}>' for i in range(num_bins)]


@dataclass
class ParsedResponse:
    """What :meth:`DetSegTextCodec.decode` read from one response.

    Attributes:
        answer (str): The free text, without ``Answer:`` and the blocks.
        img_shape (tuple): ``(h, w)`` the coordinates were decoded for.
        bboxes (np.ndarray): (N, 4) float32 ``x1 y1 x2 y2`` in pixels.
        labels (np.ndarray): (N,) int64 indices into ``classes``.
        scores (np.ndarray): (N,) float32 rank scores ``(N - i) / N``.
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


def rasterize_polygons(polygons: Sequence[Tuple[int, np.ndarray]],
                       img_shape: ImgShape,
                       background: int = 0) -> np.ndarray:
    """Paint ``(label, (K, 2) pixel-centre xy)`` polygons, largest first."""
    h, w = int(img_shape[0]), int(img_shape[1])
    out = np.full((h, w), background, np.int32)
    shift = 4  # cv2 fixed point: sub-pixel vertices from bin centres
    order = sorted(
        range(len(polygons)),
        key=lambda i: -abs(cv2.contourArea(
            np.asarray(polygons[i][1], np.float32).reshape(-1, 1, 2))))
    for i in order:
        label, pts = polygons[i]
        pts = np.round(np.asarray(pts, np.float64) * (1 << shift))
        cv2.fillPoly(out, [pts.astype(np.int32).reshape(-1, 1, 2)],
                     int(label), lineType=cv2.LINE_8, shift=shift)
    return out.astype(np.int64)


def resolve_class_names(names, what: str = 'classes') -> Tuple[str, ...]:
    """Class names, or the ``METAINFO['classes']`` of a registered dataset
    named by a string (``'mmdet.CocoDataset'``, ``'mmseg.ADE20KDataset'``),
    so that configs need not spell out 80 or 150 names."""
    if not isinstance(names, str):
        return tuple(names)
    from llava_detseg.registry import DATASETS
    try:
        dataset = DATASETS.get(names)
    except KeyError:
        dataset = None
    meta = getattr(dataset, 'METAINFO', None) or {}
    if 'classes' not in meta:
        raise ValueError(f'{what}={names!r}: give a list of class names or '
                         'the registry name of a dataset with '
                         "METAINFO['classes'] (e.g. 'mmdet.CocoDataset')")
    return tuple(meta['classes'])


class DetSegTextCodec:
    """Encode boxes / label maps as ``<DET>`` / ``<SEG>`` text and back.

    Args:
        classes (Sequence[str] | str): Detection class names (label ``i`` is
            ``classes[i]``), or a registered dataset's name (see
            :func:`resolve_class_names`).
        seg_classes (Sequence[str] | str, optional): Names of the semantic
            labels, likewise; default ``('background', *classes)``.
        background_index (int, optional): Semantic label never written
            (default 0; ``None`` writes every label).
        ignore_index (int): Semantic label never written (mmseg's 255).
        num_bins (int): Location bins per axis (``<loc_0>`` ...).
        max_boxes (int): Most boxes in a ``<DET>`` block (highest scores).
        max_vertices (int): Most vertices of one polygon.
        tolerance (float): ``approxPolyDP`` epsilon in pixels of the
            original image (grows 1.5x while a polygon has too many vertices).
        min_region_area (int): Connected regions with fewer pixels are not
            written.
    """

    def __init__(self,
                 classes: Sequence[str],
                 seg_classes: Optional[Sequence[str]] = None,
                 background_index: Optional[int] = 0,
                 ignore_index: int = 255,
                 num_bins: int = NUM_BINS,
                 max_boxes: int = 100,
                 max_vertices: int = 32,
                 tolerance: float = 1.0,
                 min_region_area: int = 4) -> None:
        classes = resolve_class_names(classes, 'classes')
        if seg_classes is not None:
            seg_classes = resolve_class_names(seg_classes, 'seg_classes')
        # Names are written with their whitespace collapsed (ADE20K's meta
        # has 'bed '); the index of a class does not change.
        self.classes = tuple(' '.join(str(n).split()) for n in classes)
        self.seg_classes = tuple(
            ' '.join(str(n).split()) for n in seg_classes) \
            if seg_classes is not None else ('background', ) + self.classes
        for what, names in (('classes', self.classes), ('seg_classes',
                                                        self.seg_classes)):
            for name in names:
                if not name or any(c in name for c in _RESERVED):
                    raise ValueError(
                        f'DetSegTextCodec: {what} name {name!r} cannot be '
                        'written: it must be non-empty and without "<", ">" '
                        'or ";"')
        if num_bins < 2 or max_boxes < 1 or max_vertices < 3:
            raise ValueError('DetSegTextCodec: need num_bins >= 2, max_boxes '
                             f'>= 1 and max_vertices >= 3, got {num_bins}, '
                             f'{max_boxes}, {max_vertices}')
        if tolerance < 0:
            raise ValueError(f'DetSegTextCodec: tolerance must be >= 0, got '
                             f'{tolerance}')
        self.background_index = background_index
        self.ignore_index = ignore_index
        self.num_bins = int(num_bins)
        self.max_boxes = int(max_boxes)
        self.max_vertices = int(max_vertices)
        self.tolerance = float(tolerance)
        self.min_region_area = int(min_region_area)
        self._det_index = {n: i for i, n in enumerate(self.classes)}
        self._seg_index = {n: i for i, n in enumerate(self.seg_classes)}

    # ------------------------------------------------------------------
    # coordinates
    # ------------------------------------------------------------------
    def quantize(self, values: np.ndarray, size: float) -> np.ndarray:
        """Continuous coordinates along an axis of ``size`` -> bins."""
        rel = np.asarray(values, np.float64) / float(size)
        return np.clip(np.floor(rel * self.num_bins), 0,
                       self.num_bins - 1).astype(np.int64)

    def dequantize(self, bins: np.ndarray, size: float) -> np.ndarray:
        """Bins -> the continuous coordinate of their centres."""
        return (np.asarray(bins, np.float64) + 0.5) / self.num_bins * size

    @staticmethod
    def _locs(bins: np.ndarray) -> str:
        return ''.join(f'<loc_{int(b)}>' for b in np.asarray(bins).ravel())

    # ------------------------------------------------------------------
    # encode
    # ------------------------------------------------------------------
    def encode_det(self,
                   bboxes: np.ndarray,
                   labels: np.ndarray,
                   img_shape: ImgShape,
                   scores: Optional[np.ndarray] = None) -> str:
        """A ``<DET>`` block of the ``max_boxes`` highest-scoring boxes.

        Args:
            bboxes (np.ndarray): (N, 4) ``x1 y1 x2 y2`` in original pixels.
            labels (np.ndarray): (N,) indices into ``classes``.
            img_shape (tuple): Original ``(h, w)``.
            scores (np.ndarray, optional): (N,) scores; ``None`` keeps the
                given order.
        """
        return self.det_block(
            self.det_items(bboxes, labels, img_shape, scores))

    def det_items(self,
                  bboxes: np.ndarray,
                  labels: np.ndarray,
                  img_shape: ImgShape,
                  scores: Optional[np.ndarray] = None) -> List[Tuple[int,
                                                                     str]]:
        """``(label, 'class <loc>...')`` per box, in block order (see
        :meth:`encode_det`); filter them and join with :meth:`det_block`."""
        bboxes = np.asarray(_numpy(bboxes), np.float64).reshape(-1, 4)
        labels = np.asarray(_numpy(labels), np.int64).reshape(-1)
        if len(bboxes) != len(labels):
            raise ValueError(f'encode_det: {len(bboxes)} boxes but '
                             f'{len(labels)} labels')
        order = np.arange(len(bboxes))
        if scores is not None:
            # stable: equal scores keep their given order
            order = np.argsort(-np.asarray(_numpy(scores)).reshape(-1),
                               kind='stable')
        order = order[:self.max_boxes]
        h, w = img_shape[:2]
        items = []
        for i in order:
            label = int(labels[i])
            if not 0 <= label < len(self.classes):
                raise ValueError(f'encode_det: label {label} is not an index '
                                 f'into the {len(self.classes)} classes')
            x = self.quantize(bboxes[i, [0, 2]], w)
            y = self.quantize(bboxes[i, [1, 3]], h)
            items.append((label, f'{self.classes[label]} ' +
                          self._locs([x[0], y[0], x[1], y[1]])))
        return items

    @staticmethod
    def det_block(items: Sequence) -> str:
        """Join ``det_items`` (or their strings) into a ``<DET>`` block."""
        return DET_OPEN + ITEM_SEP.join(
            i if isinstance(i, str) else i[1] for i in items) + DET_CLOSE

    @staticmethod
    def seg_block(items: Sequence) -> str:
        """Join ``seg_items`` (or their strings) into a ``<SEG>`` block."""
        return SEG_OPEN + ITEM_SEP.join(
            i if isinstance(i, str) else i[1] for i in items) + SEG_CLOSE

    def mask_polygons(self, mask: np.ndarray) -> List[np.ndarray]:
        """Simplified outer polygons (pixel-centre xy) of a binary mask,
        one per connected region, largest region first."""
        mask = np.ascontiguousarray(mask, dtype=np.uint8)
        contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL,
                                       cv2.CHAIN_APPROX_SIMPLE)
        found = []
        for c in contours:
            region = np.zeros_like(mask)
            cv2.drawContours(region, [c], -1, 1, thickness=-1)
            area = int((region & mask).sum())
            if area < self.min_region_area:
                continue
            poly = self._simplify(c)
            found.append((area, poly))
        found.sort(key=lambda t: -t[0])
        return [p for _, p in found]

    def _simplify(self, contour: np.ndarray) -> np.ndarray:
        eps = self.tolerance
        poly = cv2.approxPolyDP(contour, eps, True) if eps > 0 else contour
        while len(poly) > self.max_vertices:
            eps = max(eps, 0.5) * 1.5
            poly = cv2.approxPolyDP(contour, eps, True)
        poly = poly.reshape(-1, 2)
        if len(poly) < 3:
            # a one-pixel-thin region: its bounding rectangle (degenerate,
            # still filled as a line) keeps it a valid polygon
            x, y, bw, bh = cv2.boundingRect(contour)
            poly = np.array([[x, y], [x + bw - 1, y], [x + bw - 1, y + bh - 1],
                             [x, y + bh - 1]])
        return poly.astype(np.float64)

    def encode_seg(self, sem_seg: np.ndarray) -> str:
        """A ``<SEG>`` block of a (h, w) label map in original pixels.

        Labels are written in ascending order; within a label its regions
        largest first. Background / ignore labels are not written.
        """
        return self.seg_block(self.seg_items(sem_seg))

    def seg_items(self, sem_seg: np.ndarray) -> List[Tuple[int, str]]:
        """``(seg label, 'class <poly>...</poly>')`` per region, in block
        order (see :meth:`encode_seg`)."""
        sem = np.asarray(_numpy(sem_seg))
        while sem.ndim > 2 and sem.shape[0] == 1:  # (1, h, w); a 1x1 map
            sem = sem[0]                            # must stay 2-D
        if sem.ndim != 2:
            raise ValueError(f'encode_seg: expected an (h, w) label map, got '
                             f'shape {np.shape(sem_seg)}')
        h, w = sem.shape
        items = []
        for label in np.unique(sem):
            label = int(label)
            if label in (self.background_index, self.ignore_index):
                continue
            if not 0 <= label < len(self.seg_classes):
                raise ValueError(f'encode_seg: label {label} is not an index '
                                 f'into the {len(self.seg_classes)} '
                                 'seg_classes')
            for poly in self.mask_polygons(sem == label):
                # pixel index -> pixel-centre coordinate
                xy = np.stack([
                    self.quantize(poly[:, 0] + 0.5, w),
                    self.quantize(poly[:, 1] + 0.5, h)
                ], axis=1)
                items.append((label, f'{self.seg_classes[label]} {POLY_OPEN}'
                              f'{self._locs(xy)}{POLY_CLOSE}'))
        return items

    @staticmethod
    def encode_response(answer: str = '', blocks: Sequence[str] = ()) -> str:
        """``Answer: {answer}`` followed by the blocks, space separated."""
        text = f'{ANSWER_PREFIX} {answer}'.rstrip()
        return ' '.join([text] + [b for b in blocks if b])

    # ------------------------------------------------------------------
    # decode
    # ------------------------------------------------------------------
    def decode(self, text: str, img_shape: ImgShape) -> ParsedResponse:
        """Parse a response; never raises on model output.

        Args:
            text (str): The generated text.
            img_shape (tuple): Original ``(h, w)`` of the image.
        """
        failures: Counter = Counter()
        h, w = float(img_shape[0]), float(img_shape[1])
        if not isinstance(text, str):
            text = '' if text is None else str(text)
        blocks, outside = self._split_blocks(text, failures)
        boxes, labels, polygons = [], [], []
        has = dict(DET=False, SEG=False)
        for kind, content in blocks:
            has[kind] = True
            if kind == 'DET':
                for item in _items(content):
                    parsed = self._parse_box(item, w, h, failures)
                    if parsed is not None:
                        boxes.append(parsed[1])
                        labels.append(parsed[0])
            else:
                for item in _items(content):
                    polygons += self._parse_region(item, w, h, failures)
        n = len(boxes)
        answer = ' '.join(' '.join(outside).split())
        if answer.startswith(ANSWER_PREFIX):
            answer = answer[len(ANSWER_PREFIX):].strip()
        return ParsedResponse(
            answer=answer,
            img_shape=(int(img_shape[0]), int(img_shape[1])),
            bboxes=np.asarray(boxes, np.float32).reshape(-1, 4),
            labels=np.asarray(labels, np.int64),
            scores=(np.arange(n, 0, -1, dtype=np.float32) / max(n, 1)),
            polygons=polygons,
            has_det=has['DET'],
            has_seg=has['SEG'],
            failures=failures)

    @staticmethod
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

    def _loc_values(self, text: str, failures: Counter) -> Optional[list]:
        vals = [int(v) for v in _LOC_RE.findall(text)]
        if any(v >= self.num_bins for v in vals):
            failures['bad_loc'] += 1
            return None
        return vals

    def _parse_box(self, item: str, w: float, h: float,
                   failures: Counter) -> Optional[tuple]:
        name, rest = _name_and_rest(item)
        if _LOC_RE.sub('', rest).strip() or not rest:
            failures['garbage'] += 1
            return None
        if name not in self._det_index:
            failures['unknown_class'] += 1
            return None
        vals = self._loc_values(rest, failures)
        if vals is None:
            return None
        if len(vals) != 4:
            failures['bad_loc_count'] += 1
            return None
        x1, y1, x2, y2 = vals
        if x2 < x1 or y2 < y1:
            failures['inverted_box'] += 1
            return None
        xs = self.dequantize([x1, x2], w)
        ys = self.dequantize([y1, y2], h)
        return self._det_index[name], [xs[0], ys[0], xs[1], ys[1]]

    def _parse_region(self, item: str, w: float, h: float,
                      failures: Counter) -> List[tuple]:
        name, rest = _name_and_rest(item)
        if not rest.startswith(POLY_OPEN):
            failures['garbage'] += 1
            return []
        if name not in self._seg_index:
            failures['unknown_class'] += 1
            return []
        label = self._seg_index[name]
        out = []
        for piece in rest.split(POLY_OPEN)[1:]:
            inner, closed, tail = piece.partition(POLY_CLOSE)
            if not closed:
                failures['unclosed_tag'] += 1
            if tail.strip() or _LOC_RE.sub('', inner).strip():
                failures['garbage'] += 1
                continue
            vals = self._loc_values(inner, failures)
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
            pts = np.stack([self.dequantize(xy[:, 0], w),
                            self.dequantize(xy[:, 1], h)], 1) - 0.5
            out.append((label, pts.astype(np.float32)))
        return out

    # ------------------------------------------------------------------
    def __repr__(self) -> str:
        return (f'{type(self).__name__}(classes={self.classes}, '
                f'num_bins={self.num_bins}, max_boxes={self.max_boxes}, '
                f'max_vertices={self.max_vertices}, '
                f'tolerance={self.tolerance}, '
                f'min_region_area={self.min_region_area})')


def _items(content: str) -> List[str]:
    """Non-empty ``;``-separated items of a block."""
    return [s.strip() for s in content.split(';') if s.strip()]


def _name_and_rest(item: str) -> Tuple[str, str]:
    """Class name (text before the first ``<``, spaces collapsed), rest."""
    cut = item.find('<')
    if cut < 0:
        return ' '.join(item.split()), ''
    return ' '.join(item[:cut].split()), item[cut:].strip()


def _numpy(x) -> np.ndarray:
    """Tensors (any device) or arrays as numpy."""
    if hasattr(x, 'detach'):
        return x.detach().cpu().numpy()
    return np.asarray(x)


def codec_from_meta(meta: Dict, **kwargs) -> DetSegTextCodec:
    """A codec with a dataset's ``classes`` / ``seg_classes``."""
    return DetSegTextCodec(
        classes=meta['classes'], seg_classes=meta.get('seg_classes'),
        **kwargs)


__all__ = [
    'DetSegTextCodec', 'ParsedResponse', 'FAILURE_KEYS', 'special_tokens',
    'rasterize_polygons', 'codec_from_meta', 'DET_OPEN', 'DET_CLOSE',
    'SEG_OPEN', 'SEG_CLOSE', 'POLY_OPEN', 'POLY_CLOSE', 'NUM_BINS'
]
