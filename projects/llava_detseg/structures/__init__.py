"""Results <-> text: the ``<DET>`` / ``<SEG>`` codec (``text_tokens.py``
the format's tokens, ``text_codec.py`` encoding, ``text_parse.py`` reading
model output) and mask <-> polygon (``mask_polygons.py``)."""
from .mask_polygons import mask_to_polygons
from .text_codec import (DET_CLOSE, DET_OPEN, FAILURE_KEYS, NUM_BINS,
                         POLY_CLOSE, POLY_OPEN, SEG_CLOSE, SEG_OPEN,
                         DetSegTextCodec, ParsedResponse, codec_from_meta,
                         rasterize_polygons, special_tokens)

__all__ = [
    'DetSegTextCodec', 'ParsedResponse', 'FAILURE_KEYS', 'special_tokens',
    'rasterize_polygons', 'codec_from_meta', 'DET_OPEN', 'DET_CLOSE',
    'SEG_OPEN', 'SEG_CLOSE', 'POLY_OPEN', 'POLY_CLOSE', 'NUM_BINS',
    'mask_to_polygons'
]
