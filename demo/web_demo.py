"""A web demo of a LLaVA-DetSeg model: upload an image, ask, watch it answer.

The browser counterpart of ``demo/chat.py`` (LLaVA's ``serve/gradio_web_server``
in one process): the model loads once (one ``LlavaDetSegInferencer``) and a
Gradio queue serves the users in turn. Each browser session gets its own
``ChatSession`` (kept in a ``gr.State``, created on its first question), so
users never see one another's history. The answer streams in token by token;
the boxes and masks parsed from its ``<DET>`` / ``<SEG>`` blocks are drawn
over the image with a legend, and the prediction's JSON can be downloaded.

Example::

    python demo/web_demo.py configs/llava-detseg_clip-tiny_llama-tiny_1xb16-7e_shapes_text-grounded-1perimg_vqa-context.py \\
        --weights "$(cat work_dirs/demo/last_checkpoint)" --port 7860

then open http://127.0.0.1:7860. ``make web`` does this on the ``make demo``
checkpoint. Nothing is fetched from the network (no share link, no
analytics).
"""
import argparse
import hashlib
import html
import os
import os.path as osp
import queue
import shutil
import sys
import tempfile
import threading
import time
from collections import Counter
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

# before gradio is imported: it reads these at import time
os.environ.setdefault('GRADIO_ANALYTICS_ENABLED', 'False')
os.environ.setdefault('TOKENIZERS_PARALLELISM', 'false')

import cv2  # noqa: E402
import gradio as gr  # noqa: E402
import numpy as np  # noqa: E402

from _common import add_model_args, ensure_package  # noqa: E402
MIN_SIDE = 8  # px; below this an image holds nothing to detect
MAX_SIDE = 2048  # px; larger images are scaled down before the model
MAX_CHARS = 2000  # the inferencer reads at most this many characters
# 12 colours far apart (tab10 + 2), one per class, boxes and masks alike
PALETTE = ('#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b',
           '#e377c2', '#7f7f7f', '#bcbd22', '#17becf', '#393b79', '#637939')
OVERLAY_LABEL = 'Boxes and masks'
STREAM_INTERVAL = 0.08  # s between two UI updates while an answer streams
STOP_WAIT = 30.0  # s the stop button waits for the model to let go
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
CSS = """
#status p { margin: 0; }
#chatbot pre, #chatbot pre code {
    white-space: pre-wrap !important; word-break: break-all !important; }
"""


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


# --------------------------------------------------------------------------
# one user's state
# --------------------------------------------------------------------------
class Turn:
    """One question being answered in a worker thread."""

    def __init__(self, question: str, index: int) -> None:
        self.question = question
        self.index = index  # where its user message sits in the chatbot
        self.pieces: 'queue.Queue[Optional[str]]' = queue.Queue()
        self.stop_event = threading.Event()
        self.text = ''
        self.result: Optional[dict] = None
        self.error: Optional[str] = None
        self.thread: Optional[threading.Thread] = None
        self.finished = threading.Event()
        self.outputs: Optional[tuple] = None  # the rendered final outputs


class UserSession:
    """What one browser session holds: its ``ChatSession`` (created from
    the shared inferencer), the image that conversation is about, the turn
    being answered and a folder for its downloads."""

    def __init__(self, inferencer) -> None:
        self.chat = inferencer.chat()
        self.image_key: Optional[str] = None
        self.image: Optional[np.ndarray] = None  # RGB, as the model saw it
        self.turn: Optional[Turn] = None
        self.turns = 0
        self.out_dir = tempfile.mkdtemp(prefix='llava_detseg_web_')

    def close(self) -> None:
        """Stop a running answer and remove the downloads."""
        if self.turn is not None:
            self.turn.stop_event.set()
        shutil.rmtree(self.out_dir, ignore_errors=True)

    def __deepcopy__(self, memo):  # gradio copies only initial values
        return self


def _close_session(user: Optional[UserSession]) -> None:
    if isinstance(user, UserSession):
        user.close()


# --------------------------------------------------------------------------
# the app
# --------------------------------------------------------------------------
class WebDemo:
    """The event handlers of the web demo over one shared inferencer.

    Args:
        inferencer (LlavaDetSegInferencer): Loaded once, shared by all
            sessions (its ``chat()`` gives each its own ``ChatSession``).
        max_new_tokens (int): Default of the slider.
        min_side / max_side (int): Smallest image side accepted / largest
            given to the model (larger images are scaled down).
        max_chars (int): Longest instruction accepted.
    """

    def __init__(self, inferencer, max_new_tokens: int = 256,
                 min_side: int = MIN_SIDE, max_side: int = MAX_SIDE,
                 max_chars: int = MAX_CHARS) -> None:
        self.inferencer = inferencer
        self.max_new_tokens = int(max_new_tokens)
        self.min_side, self.max_side = min_side, max_side
        self.max_chars = max_chars
        self.classes = list(getattr(inferencer, 'classes', ()) or ())
        seg = [c for c in (getattr(inferencer, 'seg_classes', ()) or ())
               if c not in self.classes and c != 'background']
        self.classes += seg
        self.examples = list(getattr(inferencer, 'example_instructions', ())
                             or ('Detect all objects.', ))

    # -- asking ------------------------------------------------------------
    def respond(self, image, instruction, temperature, max_new_tokens,
                score_thr, history, user) -> Iterator[tuple]:
        """Answer one instruction; yields ``(chatbot, user, overlay, file,
        status, instruction box)`` as the answer streams."""
        history = list(history or [])
        skip = gr.skip()
        text, problem = check_instruction(instruction, self.max_chars)
        array = note = None
        if problem is None:
            array, problem, note = prepare_image(image, self.min_side,
                                                 self.max_side)
        if problem is not None:
            yield (history, user, skip, skip,
                   status_markdown('error', problem), skip)
            return
        if not isinstance(user, UserSession):
            user = UserSession(self.inferencer)
        previous = user.turn
        if previous is not None and not previous.finished.is_set():
            # a stopped answer still letting go of the model
            previous.stop_event.set()
            previous.finished.wait(STOP_WAIT)
        key = image_key(array)
        if key != user.image_key:
            try:
                user.chat.set_image(np.ascontiguousarray(array[..., ::-1]))
            except Exception as e:  # the API's own message, e.g. too large
                yield (history, user, skip, skip,
                       status_markdown('error', f'This image cannot be used: '
                                       f'{e}'), skip)
                return
            if user.image_key is not None and history:
                history.append(dict(
                    role='assistant', content=f'_New image ({array.shape[1]}'
                    f'x{array.shape[0]} px): a new conversation starts._'))
            user.image_key, user.image = key, array
        history.append(dict(role='user', content=html.escape(text)))
        turn = Turn(text, len(history) - 1)
        history.append(dict(role='assistant', content='_…_'))
        user.turn = turn
        settings = dict(temperature=float(temperature or 0.0),
                        max_new_tokens=int(max_new_tokens or
                                           self.max_new_tokens),
                        pred_score_thr=float(score_thr))

        def work() -> None:
            try:
                turn.result = user.chat.ask(
                    text, on_token=turn.pieces.put,
                    stop_event=turn.stop_event, **settings)
            except Exception as e:  # the API promises not to; keep serving
                turn.error = f'{type(e).__name__}: {e}'
            finally:
                turn.pieces.put(None)
                turn.finished.set()

        turn.thread = threading.Thread(target=work, daemon=True,
                                       name='llava-detseg-answer')
        turn.thread.start()
        working = status_markdown('note', note) if note else \
            'Answering … (Stop ends the answer where it is)'
        yield history, user, skip, skip, working, ''
        done, last = False, 0.0
        while not done:
            try:
                piece = turn.pieces.get(timeout=STREAM_INTERVAL)
            except queue.Empty:
                continue
            while piece is not None:
                turn.text += piece
                try:
                    piece = turn.pieces.get_nowait()
                except queue.Empty:
                    break
            done = piece is None
            if not done and time.monotonic() - last >= STREAM_INTERVAL:
                last = time.monotonic()
                history[-1] = dict(role='assistant',
                                   content=fenced(turn.text + ' ▌'))
                yield history, user, skip, skip, working, skip
        chatbot, overlay, path, status = self.render(user, turn, history,
                                                     note)
        yield chatbot, user, overlay, path, status, skip

    def render(self, user: UserSession, turn: Turn, history: list,
               note: str = '') -> tuple:
        """The final ``(chatbot, overlay, JSON path, status)`` of a finished
        turn; the same every time it is asked (the stop button may ask
        again)."""
        if turn.outputs is not None:
            _, overlay, path, status = turn.outputs
            return (self._place(history, turn, turn.outputs[0]), overlay,
                    path, status)
        result = turn.result or {}
        error = turn.error or result.get('error')
        stopped = bool(result.get('stopped')) or turn.stop_event.is_set()
        text = result.get('text') or turn.text
        message = answer_markdown(text, None if error else result, stopped,
                                  error)
        overlay = path = None
        if error:
            status = status_markdown('error', error)
        else:
            user.turns += 1
            value, color_map = annotations(result, user.image, self.classes)
            found = summary(result) or 'a question: nothing to draw'
            overlay = gr.AnnotatedImage(value=value, color_map=color_map,
                                        label=f'{OVERLAY_LABEL}: {found}')
            try:
                _, path = user.chat.save(
                    osp.join(user.out_dir, f'turn{user.turns:03d}'))
            except Exception as e:  # a full disk must not end the session
                path = None
                note = f'{note} The JSON could not be written: {e}'.strip()
            notes = ([note] if note else []) + problem_notes(result)
            status = (f'Turn {len(user.chat.history)} of the conversation '
                      f'about this image' +
                      (' (stopped)' if stopped else '') + '.')
            if notes:
                status += ' ' + status_markdown('note', '; '.join(notes) +
                                                '.')
        turn.outputs = (message, overlay, path, status)
        return self._place(history, turn, message), overlay, path, status

    @staticmethod
    def _place(history: list, turn: Turn, message: str) -> list:
        """``history`` with ``message`` as the answer of ``turn``."""
        history = list(history or [])
        answer = dict(role='assistant', content=message)
        at = turn.index
        if len(history) > at and history[at].get('role') == 'user':
            if len(history) > at + 1:
                history[at + 1] = answer
            else:
                history.append(answer)
        else:  # the turn never reached this browser
            history += [dict(role='user', content=html.escape(turn.question)),
                        answer]
        return history

    # -- stopping and clearing --------------------------------------------
    @staticmethod
    def stop(user) -> None:
        """Ask the running answer to stop where it is."""
        if isinstance(user, UserSession) and user.turn is not None:
            user.turn.stop_event.set()

    def finish_stopped(self, history, user) -> tuple:
        """After Stop (which cancelled the streaming event): wait for the
        model to let go and show the stopped answer and what it held."""
        skip = gr.skip()
        if not isinstance(user, UserSession) or user.turn is None:
            return skip, skip, skip, skip
        turn = user.turn
        if not turn.finished.wait(STOP_WAIT):
            return skip, skip, skip, status_markdown(
                'note', 'The model is still stopping; ask again shortly.')
        return self.render(user, turn, history)

    @staticmethod
    def clear(user) -> tuple:
        """Forget this session's conversation (the image stays)."""
        if isinstance(user, UserSession):
            if user.turn is not None:
                user.turn.stop_event.set()
            user.chat.reset()
        return ([], user, gr.AnnotatedImage(value=None, label=OVERLAY_LABEL),
                None, 'The conversation was cleared.')


def build_demo(inferencer, max_new_tokens: int = 256,
               title: str = 'LLaVA-DetSeg', **limits) -> gr.Blocks:
    """The Gradio app over one loaded ``LlavaDetSegInferencer``.

    Args:
        inferencer: Shared by every browser session.
        max_new_tokens (int): Default answer budget (a slider).
        title (str): Page title.
        **limits: ``min_side``, ``max_side``, ``max_chars`` of
            :class:`WebDemo`.

    Returns:
        gr.Blocks: Call ``.queue(...)`` and ``.launch(...)`` on it.
    """
    app = WebDemo(inferencer, max_new_tokens=max_new_tokens, **limits)
    thr = float(getattr(inferencer, 'default_score_thr', 0.3))
    with gr.Blocks(title=title) as demo:
        demo.web_demo = app  # the handlers, for tests and embedding
        user = gr.State(None, delete_callback=_close_session)
        gr.Markdown(
            f'## {title}\nUpload an image and ask: a question ("How many '
            'circles are there?"), or a detection / segmentation '
            'instruction ("Detect the circles and segment the triangles."). '
            'Boxes and masks the answer writes as `<DET>` / `<SEG>` text '
            'are drawn on the right.')
        with gr.Row():
            with gr.Column(scale=5):
                image = gr.Image(label='Image', type='numpy',
                                 image_mode='RGB', sources=['upload',
                                                            'clipboard'],
                                 elem_id='image', height=320)
                instruction = gr.Textbox(
                    label='Instruction', elem_id='instruction', lines=2,
                    placeholder='Detect the circles and segment the '
                    'triangles.')
                with gr.Row():
                    submit = gr.Button('Ask', variant='primary',
                                       elem_id='submit')
                    stop = gr.Button('Stop', variant='stop', elem_id='stop')
                    clear = gr.Button('Clear chat', elem_id='clear')
                status = gr.Markdown('', elem_id='status')
                gr.Examples(examples=[[e] for e in app.examples],
                            inputs=[instruction], label='Example '
                            'instructions (click one)',
                            examples_per_page=len(app.examples))
                with gr.Accordion('Generation', open=True):
                    temperature = gr.Slider(
                        0.0, 1.5, value=0.0, step=0.05,
                        label='Temperature (0: greedy)',
                        elem_id='temperature')
                    tokens = gr.Slider(
                        8, max(1024, app.max_new_tokens),
                        value=app.max_new_tokens, step=8,
                        label='Max new tokens', elem_id='max_new_tokens')
                    score = gr.Slider(
                        0.0, 1.0, value=thr, step=0.01,
                        label='Score threshold (head boxes given to the '
                        'answer, drawn and saved)', elem_id='score_thr')
            with gr.Column(scale=7):
                chatbot = gr.Chatbot(label='Conversation', elem_id='chatbot',
                                     height=360, feedback_options=None,
                                     buttons=['copy'])
                overlay = gr.AnnotatedImage(label=OVERLAY_LABEL,
                                            elem_id='overlay', height=320)
                result = gr.File(label='Result (JSON)', elem_id='result',
                                 interactive=False)

        ask = dict(fn=app.respond,
                   inputs=[image, instruction, temperature, tokens, score,
                           chatbot, user],
                   outputs=[chatbot, user, overlay, result, status,
                            instruction],
                   show_progress='minimal', api_visibility='private')
        asked = [submit.click(**ask), instruction.submit(**ask)]
        # Stop and Clear run beside the answering queue (concurrency_limit
        # None): with --concurrency 1 they would otherwise wait for it
        stop.click(app.stop, inputs=[user], outputs=None, cancels=asked,
                   concurrency_limit=None, show_progress='hidden',
                   api_visibility='private').then(
                       app.finish_stopped, inputs=[chatbot, user],
                       outputs=[chatbot, overlay, result, status],
                       concurrency_limit=None, show_progress='hidden',
                       api_visibility='private')
        clear.click(app.clear, inputs=[user],
                    outputs=[chatbot, user, overlay, result, status],
                    cancels=asked, concurrency_limit=None,
                    api_visibility='private')
    return demo


def launch_kwargs(args: argparse.Namespace) -> dict:
    """``Blocks.launch`` options of the command line: local, offline."""
    return dict(server_name=args.host, server_port=args.port, share=False,
                ssr_mode=False, show_error=True, max_file_size='64mb',
                footer_links=[], css=CSS, theme=gr.themes.Default(
                    font=['ui-sans-serif', 'system-ui', 'sans-serif'],
                    font_mono=['ui-monospace', 'monospace']))


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """The command line (``demo/chat.py``'s model flags)."""
    parser = argparse.ArgumentParser(
        description='Serve a LLaVA-DetSeg model in the browser')
    add_model_args(parser)
    parser.add_argument('--host', default='127.0.0.1',
                        help='address to listen on (0.0.0.0: every one)')
    parser.add_argument('--port', type=int, default=7860)
    parser.add_argument(
        '--concurrency', type=int, default=1,
        help='answers generated at once; the other users wait in the queue')
    parser.add_argument('--max-queue', type=int, default=32,
                        help='waiting requests beyond which users are told '
                        'the queue is full')
    parser.add_argument('--max-new-tokens', type=int, default=256,
                        help='default answer budget (a slider in the page)')
    parser.add_argument('--dtype', default='fp32',
                        choices=['fp32', 'bf16', 'fp16'])
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> int:
    """Load the model once, then serve it until Ctrl-C."""
    args = parse_args(argv)
    if not osp.exists(args.model):
        print(f'web_demo.py: error: {args.model}: no such config file or '
              'model folder', file=sys.stderr)
        return 2
    if args.weights and not osp.isfile(args.weights):
        print(f'web_demo.py: error: {args.weights}: no such checkpoint',
              file=sys.stderr)
        return 2
    if args.concurrency < 1:
        print('web_demo.py: error: --concurrency must be at least 1',
              file=sys.stderr)
        return 2
    ensure_package()
    from llava_detseg.apis import LlavaDetSegInferencer
    try:
        inferencer = LlavaDetSegInferencer(
            model=args.model, weights=args.weights, device=args.device,
            dtype=args.dtype, load_4bit=args.load_4bit,
            load_8bit=args.load_8bit, show_progress=False)
    except Exception as e:
        print(f'web_demo.py: error: cannot load the model from {args.model}: '
              f'{type(e).__name__}: {e}', file=sys.stderr)
        return 1
    demo = build_demo(inferencer, max_new_tokens=args.max_new_tokens)
    demo.queue(default_concurrency_limit=args.concurrency,
               max_size=args.max_queue)
    print(f'[web demo] serving on http://{args.host}:{args.port} '
          f'(Ctrl-C ends)', flush=True)
    demo.launch(**launch_kwargs(args))
    return 0


if __name__ == '__main__':
    sys.exit(main())
