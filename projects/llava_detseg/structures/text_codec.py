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
  decoder gives the i-th of the N_c boxes of a class the rank score
  ``(N_c - i) / N_c`` so that COCO's per-class ranking sees the order the
  model wrote.
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
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from .mask_polygons import mask_to_polygons, rasterize_polygons
from .text_parse import FAILURE_KEYS, ParsedResponse, parse_response
from .text_tokens import (ANSWER_PREFIX, DET_CLOSE, DET_OPEN, ITEM_SEP,
                          NUM_BINS, POLY_CLOSE, POLY_OPEN, SEG_CLOSE,
                          SEG_OPEN, special_tokens)

_RESERVED = ('<', '>', ';')

ImgShape = Tuple[int, int]


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
        return mask_to_polygons(mask, self.tolerance, self.max_vertices,
                                self.min_region_area)

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
        """Parse a response; never raises on model output (see
        :func:`~.text_parse.parse_response`).

        Args:
            text (str): The generated text.
            img_shape (tuple): Original ``(h, w)`` of the image.
        """
        return parse_response(self, text, img_shape)

    # ------------------------------------------------------------------
    def __repr__(self) -> str:
        return (f'{type(self).__name__}(classes={self.classes}, '
                f'num_bins={self.num_bins}, max_boxes={self.max_boxes}, '
                f'max_vertices={self.max_vertices}, '
                f'tolerance={self.tolerance}, '
                f'min_region_area={self.min_region_area})')


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
    'SEG_OPEN', 'SEG_CLOSE', 'POLY_OPEN', 'POLY_CLOSE', 'NUM_BINS',
    'ANSWER_PREFIX', 'ITEM_SEP'
]
