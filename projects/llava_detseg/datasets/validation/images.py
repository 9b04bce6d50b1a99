"""Images: decodable, and the size the annotation file states."""
from typing import Optional, Sequence


def image_size_problem(shape: Sequence[int], width: Optional[int],
                       height: Optional[int]) -> Optional[str]:
    """Why a decoded image (``shape`` = ``(h, w, ...)``) does not match the
    ``width`` / ``height`` of its annotation entry, or ``None``.

    Boxes, polygons and the semantic map are in the annotation's frame: an
    image of another size (a resized copy, an EXIF rotation applied by the
    decoder) puts every label in the wrong place.
    """
    if width is None or height is None:
        return None
    h, w = int(shape[0]), int(shape[1])
    if (w, h) != (width, height):
        return (f'decoded image is {w}x{h}, the annotation file says width '
                f'{width}, height {height}')
    return None
