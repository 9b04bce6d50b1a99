"""Semantic maps: one 8-bit channel, the image's size, known labels."""
import io
from typing import Optional, Sequence, Tuple

import numpy as np

# PNG modes of an 8-bit single-channel map (P: a palette, as VOC writes)
MAP_MODES = ('L', 'P')


def decode_semantic_map(data: bytes) -> Tuple[str, np.ndarray]:
    """``(PIL mode, labels)`` of an encoded map, as the file holds them.

    Decoded with Pillow, which raises on a truncated or non-image file
    (OpenCV returns ``None``, and the loaders then fail on ``None``).
    """
    from PIL import Image
    with Image.open(io.BytesIO(data)) as img:
        mode = img.mode
        return mode, np.asarray(img)


def map_problem(mode: str,
                seg: np.ndarray,
                img_shape: Sequence[int],
                num_classes: Optional[int] = None,
                ignore_index: int = 255,
                reduce_zero_label: bool = False) -> Optional[Tuple[str, str]]:
    """``(kind, problem)`` of a decoded map, or ``None``.

    The loaders hide some faults: mmseg casts every map to uint8 (a 16-bit
    label 256 becomes 0), OpenCV expands a palette to three channels, and
    a map of another size or with labels beyond the classes fails later
    with an ``IndexError`` in a loss or a metric.

    Args:
        mode (str): The file's PIL mode.
        seg (np.ndarray): Its labels, as stored.
        img_shape (Sequence[int]): The decoded image's ``(h, w)``.
        num_classes (int, optional): Classes of the map; ``None``: labels
            unchecked.
        ignore_index (int): The label that is not scored.
        reduce_zero_label (bool): Stored labels are ``1..num_classes``, 0
            being ignored (ADE20K), as mmseg's loader shifts them.
    """
    if mode not in MAP_MODES or seg.ndim != 2:
        return 'semantic.format', (
            f'expected an 8-bit single-channel map (PNG mode '
            f'{" or ".join(MAP_MODES)}), got mode {mode}, shape '
            f'{tuple(seg.shape)}')
    if tuple(seg.shape) != tuple(img_shape[:2]):
        return 'semantic.size', (
            f'map is {seg.shape[1]}x{seg.shape[0]}, its image '
            f'{img_shape[1]}x{img_shape[0]} (width x height)')
    if num_classes is None:
        return None
    low = 1 if reduce_zero_label else 0
    values, counts = np.unique(seg, return_counts=True)
    ok = (values >= low) & (values < num_classes + low)
    ok |= values == ignore_index
    if reduce_zero_label:
        ok |= values == 0
    if not ok.all():
        shown = [int(v) for v in values[~ok][:10]]
        return 'semantic.labels', (
            f'labels {shown} ({int(counts[~ok].sum())} pixels) outside the '
            f'{num_classes} classes {low}..{num_classes - 1 + low} and '
            f'ignore {ignore_index}')
    return None
