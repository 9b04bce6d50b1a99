"""A web demo of a LLaVA-DetSeg model: upload an image, ask, watch it answer.

The browser counterpart of ``demo/chat.py`` (LLaVA's ``serve/gradio_web_server``
in one process): the model loads once (one ``LlavaDetSegInferencer``) and a
Gradio queue serves the users in turn. Each browser session gets its own
``ChatSession`` (kept in a ``gr.State``, created on its first question), so
users never see one another's history. The answer streams in token by token;
the boxes and masks parsed from its ``<DET>`` / ``<SEG>`` blocks are drawn
over the image with a legend, and the prediction's JSON can be downloaded.

Example::

    python demo/web_demo.py configs/llava-detseg_clip-tiny_llama-tiny_1xb16-9e_shapes_text-grounded-1perimg_vqa-context.py \\
        --weights "$(cat work_dirs/demo/last_checkpoint)" --port 7860

then open http://127.0.0.1:7860. ``make web`` does this on the ``make demo``
checkpoint. Nothing is fetched from the network (no share link, no
analytics).
"""
import argparse
import html
import os
import os.path as osp
import queue
import shutil
import sys
import tempfile
import threading
import time
from typing import Iterator, List, Optional

# before gradio is imported: it reads these at import time
os.environ.setdefault('GRADIO_ANALYTICS_ENABLED', 'False')
os.environ.setdefault('TOKENIZERS_PARALLELISM', 'false')

import gradio as gr  # noqa: E402
import numpy as np  # noqa: E402

from _common import add_model_args, ensure_package  # noqa: E402
from web_format import (MAX_CHARS, MAX_SIDE, MIN_SIDE,  # noqa: E402,F401
                        annotations, answer_markdown, check_instruction,
                        fenced, image_key, prepare_image, problem_notes,
                        status_markdown, summary)

OVERLAY_LABEL = 'Boxes and masks'
STREAM_INTERVAL = 0.08  # s between two UI updates while an answer streams
STOP_WAIT = 30.0  # s the stop button waits for the model to let go
CSS = """
#status p { margin: 0; }
#chatbot pre, #chatbot pre code {
    white-space: pre-wrap !important; word-break: break-all !important; }
"""


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
