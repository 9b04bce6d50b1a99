"""What the web demo (``web_demo.py``) shows of a result, and the checks of
what a user sends: plain functions of a prediction dict
(``LlavaDetSegInferencer``'s), with no Gradio state, so ``web_demo.py``
keeps to the page and its sessions."""
import hashlib
import html
from collections import Counter
from typing import Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np

MIN_SIDE = 8  # px; below this an image holds nothing to detect
MAX_SIDE = 2048  # px; larger images are scaled down before the model
MAX_CHARS = 2000  # the inferencer reads at most this many characters
# 12 colours far apart (tab10 + 2), one per class, boxes and masks alike
PALETTE = ('#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b',
           '#e377c2', '#7f7f7f', '#bcbd22', '#17becf', '#393b79', '#637939')
# one line per problem the inferencer counts, for the user
PROBLEM_TEXT = dict(
    format_tokens_removed='{n} format token(s) (<DET>, <loc_N>, <image> ...) '
    'were removed from the instruction: they belong to the model\'s output',
    instruction_truncated='the instruction was cut by {n} characters',
    truncated='the answer reached max new tokens and was cut',
    unclosed_tag='{n} block(s) not closed', unknown_class='{n} item(s) of '
    'an unknown class dropped', bad_loc_count='{n} item(s) with a wrong '
    'number of coordinates dropped', garbage='{n} unreadable item(s) '
    'dropped')


# --------------------------------------------------------------------------
# checking what a user sends
# --------------------------------------------------------------------------
def check_instruction(text: Optional[str],
                      max_chars: int = MAX_CHARS) -> Tuple[str, Optional[str]]:
    """``(instruction stripped, None)``, or ``('', why it is refused)``."""
    text = (text or '').strip()
    if not text:
        return '', ('Type an instruction first (or click one of the '
                    'examples), e.g. "Detect the circles."')
    if len(text) > max_chars:
        return '', (f'The instruction has {len(text):,} characters; the '
                    f'model reads at most {max_chars:,}. Shorten it.')
    return text, None


def prepare_image(image: Optional[np.ndarray], min_side: int = MIN_SIDE,
                  max_side: int = MAX_SIDE
                  ) -> Tuple[Optional[np.ndarray], Optional[str], str]:
    """An uploaded RGB array as ``(RGB array for the model or None, why it
    is refused, a note)``: too small is refused, too large is scaled
    down (the note says so)."""
    if image is None:
        return None, 'Upload an image first (drop one on the image box).', ''
    image = np.asarray(image)
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=2)
    if image.ndim != 3 or image.shape[2] not in (3, 4) or image.size == 0:
        return None, f'This is not an RGB image (shape {image.shape}).', ''
    image = np.ascontiguousarray(image[..., :3].astype(np.uint8))
    h, w = image.shape[:2]
    if min(h, w) < min_side:
        return None, (f'The image is {w}x{h} px: too small to find anything '
                      f'in; it needs at least {min_side} px on each side.'), ''
    note = ''
    if max(h, w) > max_side:
        scale = max_side / max(h, w)
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
        note = (f'The image ({w}x{h} px) was scaled down to '
                f'{size[0]}x{size[1]} px; boxes and masks refer to that size.')
    return image, None, note


def image_key(image: np.ndarray) -> str:
    """Identifies an image's content (a new upload starts a conversation)."""
    digest = hashlib.blake2b(image.tobytes(), digest_size=16)
    digest.update(str(image.shape).encode())
    return digest.hexdigest()


# --------------------------------------------------------------------------
# rendering a result
# --------------------------------------------------------------------------
def _decode_rle(rle: dict) -> np.ndarray:
    import pycocotools.mask as mask_utils
    counts = rle['counts']
    if isinstance(counts, str):
        counts = counts.encode('ascii')
    return mask_utils.decode(dict(size=rle['size'], counts=counts)) > 0


def count_by_class(items: Sequence[dict]) -> str:
    """``'circle 2, square 1'`` in the order classes first appear."""
    counts = Counter(str(it.get('class', it.get('label', '?'))) for it in items)
    return ', '.join(f'{name} {n}' for name, n in counts.items())


def annotations(result: dict, image: np.ndarray,
                classes: Sequence[str]) -> Tuple[tuple, Dict[str, str]]:
    """The ``gr.AnnotatedImage`` value of ``result`` over ``image`` (RGB):
    one layer per class and kind ('circle: 2 boxes', 'triangle: mask'), so
    the legend lists each once; and its colour map."""
    h, w = image.shape[:2]
    colour = {name: PALETTE[i % len(PALETTE)] for i, name in
              enumerate(classes)}
    layers, color_map = [], {}
    border = max(2, round(min(h, w) / 80))
    by_class: Dict[str, List[dict]] = {}
    for box in result.get('boxes') or []:
        by_class.setdefault(str(box.get('class')), []).append(box)
    for name, boxes in by_class.items():
        layer = np.zeros((h, w), np.float32)
        for box in boxes:
            x1, y1, x2, y2 = (int(round(v)) for v in box['bbox'])
            x1, x2 = sorted((min(max(x1, 0), w), min(max(x2, 0), w)))
            y1, y2 = sorted((min(max(y1, 0), h), min(max(y2, 0), h)))
            if x2 <= x1 or y2 <= y1:
                continue
            inner = layer[y1:y2, x1:x2]
            np.maximum(inner, 0.15, out=inner)
            layer[y1:y2, x1:x1 + border] = 1
            layer[y1:y2, max(x2 - border, x1):x2] = 1
            layer[y1:y1 + border, x1:x2] = 1
            layer[max(y2 - border, y1):y2, x1:x2] = 1
        label = f'{name}: {len(boxes)} box{"es" if len(boxes) != 1 else ""}'
        layers.append((layer, label))
        color_map[label] = colour.get(name, PALETTE[-1])
    masks_by_class: Dict[str, np.ndarray] = {}
    for mask in result.get('masks') or []:
        try:
            pixels = _decode_rle(mask['rle'])
        except Exception:  # a malformed mask is not worth a failed turn
            continue
        if pixels.shape != (h, w):
            pixels = cv2.resize(pixels.astype(np.uint8), (w, h),
                                interpolation=cv2.INTER_NEAREST) > 0
        name = str(mask.get('class'))
        masks_by_class[name] = masks_by_class.get(
            name, np.zeros((h, w), bool)) | pixels
    for name, pixels in masks_by_class.items():
        label = f'{name}: mask'
        layers.append((pixels.astype(np.float32) * 0.55, label))
        color_map[label] = colour.get(name, PALETTE[-1])
    return (image, layers), color_map


def summary(result: dict) -> str:
    """One line on what an answer held: boxes and masks by class."""
    tasks = result.get('tasks') or ()
    boxes, masks = result.get('boxes') or [], result.get('masks') or []
    parts = []
    if boxes or 'det' in tasks:
        parts.append(f'{len(boxes)} box{"es" if len(boxes) != 1 else ""}' +
                     (f' ({count_by_class(boxes)})' if boxes else ''))
    if masks or 'seg' in tasks:
        parts.append(f'{len(masks)} mask{"s" if len(masks) != 1 else ""}' +
                     (f' ({count_by_class(masks)})' if masks else ''))
    return ', '.join(parts)


def problem_notes(result: dict) -> List[str]:
    """The prediction's counted problems, in words."""
    notes = []
    for key, n in (result.get('problems') or {}).items():
        if not n or key in ('input_error', ):
            continue
        text = PROBLEM_TEXT.get(key, f'{key.replace("_", " ")}: {{n}}')
        notes.append(text.format(n=n))
    return notes


def fenced(text: str) -> str:
    """``text`` as a Markdown code block: ``<DET>`` and ``<loc_N>`` show as
    written instead of being taken for HTML."""
    fence = '```'
    while fence in text:
        fence += '`'
    return f'{fence}text\n{text}\n{fence}'


def answer_markdown(text: str, result: Optional[dict] = None,
                    stopped: bool = False, error: Optional[str] = None) -> str:
    """The assistant's chat message: the answer as generated (a code
    block), then what was parsed from it."""
    body = fenced(text) if text else ''
    lines = [body] if body else []
    if error:
        lines.append(f'**Error:** {html.escape(error)}')
    elif result is not None:
        line = summary(result)
        if line:
            lines.append(f'**Parsed:** {html.escape(line)}')
    if stopped:
        lines.append('_(stopped)_')
    return '\n\n'.join(lines) or '_(no answer)_'


def status_markdown(kind: str, text: str) -> str:
    """The line under the buttons: ``kind`` is 'error', 'note' or 'ok'."""
    mark = dict(error='**Error:** ', note='**Note:** ', ok='')[kind]
    return mark + html.escape(text)
