"""Mask <-> polygon in one place: the text codec, the shapes generator and
the predictions' JSON share these OpenCV helpers.

Masks are traced with OpenCV's ``findContours`` (outer contours,
8-connectivity) and simplified with ``approxPolyDP``; polygons are painted
back with ``fillPoly``. numpy / OpenCV only (the shapes generator runs
without torch), which is why mmdet's ``bitmap_to_polygon`` (torch through
``mmdet.structures``; all contours, holes included, unsimplified) is not
used: only its hole test is repeated here, in :func:`has_holes`.
"""
from typing import List, Optional, Sequence, Tuple

import cv2
import numpy as np

ImgShape = Tuple[int, int]


def outer_contours(mask: np.ndarray, upsample: int = 1) -> List[np.ndarray]:
    """The outer contours of a binary mask (pixel-index xy of the mask
    nearest-upsampled ``upsample`` times), as ``findContours`` returns
    them."""
    mask = np.ascontiguousarray(mask, dtype=np.uint8)
    if upsample > 1:
        mask = cv2.resize(
            mask, (mask.shape[1] * upsample, mask.shape[0] * upsample),
            interpolation=cv2.INTER_NEAREST)
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL,
                                   cv2.CHAIN_APPROX_SIMPLE)
    return list(contours)


def simplify_contour(contour: np.ndarray, tolerance: float,
                     max_vertices: Optional[int] = None) -> np.ndarray:
    """``approxPolyDP`` of a closed contour with ``tolerance`` pixels,
    grown 1.5x while the polygon has more than ``max_vertices`` vertices;
    (K, 2) integer xy."""
    eps = tolerance
    poly = cv2.approxPolyDP(contour, eps, True) if eps > 0 else contour
    while max_vertices is not None and len(poly) > max_vertices:
        eps = max(eps, 0.5) * 1.5
        poly = cv2.approxPolyDP(contour, eps, True)
    return poly.reshape(-1, 2)


def region_area(contour: np.ndarray, mask: np.ndarray) -> int:
    """Pixels of ``mask`` inside the filled ``contour`` (its region)."""
    region = np.zeros_like(mask)
    cv2.drawContours(region, [contour], -1, 1, thickness=-1)
    return int((region & mask).sum())


def mask_to_polygons(mask: np.ndarray, tolerance: float,
                     max_vertices: Optional[int] = None,
                     min_area: int = 0) -> List[np.ndarray]:
    """Simplified outer polygons (pixel-index xy, float64) of a binary
    mask, one per connected region of at least ``min_area`` pixels,
    largest region first. A region too thin for a polygon of three
    vertices gets its bounding rectangle (degenerate, still filled as a
    line)."""
    mask = np.ascontiguousarray(mask, dtype=np.uint8)
    found = []
    for contour in outer_contours(mask):
        area = region_area(contour, mask)
        if area < min_area:
            continue
        poly = simplify_contour(contour, tolerance, max_vertices)
        if len(poly) < 3:
            x, y, bw, bh = cv2.boundingRect(contour)
            poly = np.array([[x, y], [x + bw - 1, y],
                             [x + bw - 1, y + bh - 1], [x, y + bh - 1]])
        found.append((area, poly.astype(np.float64)))
    found.sort(key=lambda t: -t[0])
    return [p for _, p in found]


def has_holes(mask: np.ndarray) -> bool:
    """Whether a binary mask has interior holes (a contour with a parent
    in ``RETR_CCOMP``'s two-level hierarchy, as mmdet's
    ``bitmap_to_polygon`` tells them)."""
    mask = np.ascontiguousarray(mask, dtype=np.uint8)
    _, hier = cv2.findContours(mask, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
    return hier is not None and bool((hier[0, :, 3] >= 0).any())


def rasterize_polygons(polygons: Sequence[Tuple[int, np.ndarray]],
                       img_shape: ImgShape,
                       background: int = 0) -> np.ndarray:
    """Paint ``(label, (K, 2) pixel-centre xy)`` polygons into an (h, w)
    int64 label map, largest first, so that a region enclosed by another
    (whose hole was filled when encoding) is painted over it."""
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


__all__ = [
    'outer_contours', 'simplify_contour', 'region_area', 'mask_to_polygons',
    'has_holes', 'rasterize_polygons'
]
