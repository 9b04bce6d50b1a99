"""Chat with a LLaVA-DetSeg model about one image in the terminal.

The terminal counterpart of LLaVA's ``llava/serve/cli.py``: the answer streams
token by token after ``ASSISTANT: ``, the conversation's history is kept, and
detection / segmentation instructions ("Detect the circles and segment the
triangles.") are answered in ``<DET>`` / ``<SEG>`` text, followed by a
one-line summary of what was parsed from it.

Example::

    python demo/chat.py configs/llava-detseg_clip-tiny_llama-tiny_1xb16-7e_shapes.py \\
        --weights "$(cat work_dirs/demo/last_checkpoint)" \\
        --image data/shapes/images/val/000000.png

Commands at the ``USER:`` prompt: ``/image PATH`` (a new conversation on
another image), ``/reset`` (clear the history), ``/save`` (write the last
drawing and its JSON into ``--out-dir``), ``/help``. An empty line or EOF
(Ctrl-D) ends the chat; Ctrl-C during an answer stops that answer.
"""
import argparse
import os
import os.path as osp
import shlex
import signal
import sys
import threading
import warnings
from collections import Counter
from typing import Dict, List, Optional

import _common
from _common import add_generation_args, add_model_args, ensure_package

HELP = """commands:
  /image PATH   start a new conversation on another image
  /reset        clear the conversation's history (the image stays)
  /save         write the last answer's drawing (PNG) and JSON into --out-dir
  /help         show this help
  an empty line or Ctrl-D ends the chat; Ctrl-C stops the answer being written"""


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """The command line (LLaVA cli.py's generation flags, mmdet's names)."""
    parser = argparse.ArgumentParser(
        description='Chat with a LLaVA-DetSeg model about an image')
    add_model_args(parser)
    parser.add_argument('--image', required=True, help='the image to talk about')
    add_generation_args(parser)
    parser.add_argument(
        '--pred-score-thr', type=float, default=None,
        help='keep boxes scoring at least this (default: the model\'s)')
    parser.add_argument('--out-dir', default='outputs/chat',
                        help='where /save writes')
    return parser.parse_args(argv)


def fail(msg: str, code: int = 2) -> None:
    """One line on stderr, then exit."""
    _common.fail('chat.py', msg, code)


def count_by_class(items: List[Dict]) -> str:
    """``'circle 2, square 1'`` in the order classes first appear."""
    counts = Counter(str(it.get('class', it.get('label', '?'))) for it in items)
    return ', '.join(f'{name} {n}' for name, n in counts.items())


def summary_line(result: Dict) -> Optional[str]:
    """One line on what the answer held, or None for a plain answer."""
    boxes = result.get('boxes') or []
    masks = result.get('masks') or []
    # truncation has a warning of its own
    problems = {k: v for k, v in (result.get('problems') or {}).items()
                if v and k != 'truncated'}
    truncated = bool(result.get('truncated'))
    if not (boxes or masks or problems or truncated):
        return None
    parts = []
    if boxes:
        parts.append(f'{len(boxes)} box{"es" if len(boxes) != 1 else ""} '
                     f'({count_by_class(boxes)})')
    elif 'det' in (result.get('tasks') or ()):
        parts.append('0 boxes')
    if masks:
        parts.append(f'{len(masks)} mask{"s" if len(masks) != 1 else ""} '
                     f'({count_by_class(masks)})')
    elif 'seg' in (result.get('tasks') or ()):
        parts.append('0 masks')
    if problems:
        parts.append('problems: ' + ', '.join(f'{k} {v}'
                                              for k, v in problems.items()))
    if truncated:
        limit = (result.get('generation') or {}).get('max_new_tokens')
        parts.append('warning: truncated at max_new_tokens'
                     + (f'={limit}' if limit else ''))
    return '[' + ' | '.join(parts) + ']'


class Chat:
    """The prompt loop over one ``ChatSession``."""

    def __init__(self, session, image: str, args: argparse.Namespace):
        self.session = session
        self.image = image
        self.args = args

    # commands -----------------------------------------------------------
    def cmd_image(self, rest: str) -> None:
        try:
            parts = shlex.split(rest)
        except ValueError:
            parts = [rest.strip()]
        if not parts:
            print('usage: /image PATH', flush=True)
            return
        path = osp.expanduser(' '.join(parts))
        try:
            self.session.set_image(path)
        except (ValueError, FileNotFoundError, TypeError) as e:
            print(f'error: {e}; still on {self.image}', flush=True)
            return
        self.image = path
        print(f'[new conversation on {path}; history: '
              f'{len(self.session.history)} turns]', flush=True)

    def cmd_reset(self, rest: str) -> None:
        self.session.reset()
        print(f'[history cleared: {len(self.session.history)} '
              'turns]', flush=True)

    def cmd_save(self, rest: str) -> None:
        if self.session.last is None:
            print('error: nothing to save yet: ask something first', flush=True)
            return
        try:
            paths = self.session.save(self.args.out_dir)
        except (OSError, ValueError) as e:
            print(f'error: cannot save into {self.args.out_dir}: {e}',
                  flush=True)
            return
        # an answer that failed (bad input) has a JSON but no drawing
        print('saved ' + ' and '.join(p for p in paths if osp.isfile(p)),
              flush=True)

    def cmd_help(self, rest: str) -> None:
        print(HELP, flush=True)

    # one turn -----------------------------------------------------------
    def ask(self, question: str) -> None:
        """Stream one answer; Ctrl-C stops it and returns to the prompt."""
        stop = threading.Event()
        box = {}
        streamed = []

        def on_token(piece: str) -> None:
            if stop.is_set():
                return
            streamed.append(piece)
            sys.stdout.write(piece)
            sys.stdout.flush()

        def run() -> None:
            try:
                box['result'] = self.session.ask(
                    question, on_token=on_token, stop_event=stop)
            except Exception as e:  # the contract says ask() never raises
                box['exc'] = e

        # Generation runs in a worker, and Ctrl-C only sets the stop event
        # (a handler, not KeyboardInterrupt, which could land anywhere in
        # this thread, e.g. inside Thread.start, and leave the worker alive)
        interrupted = []

        def on_sigint(signum, frame) -> None:
            interrupted.append(True)
            stop.set()

        previous = signal.signal(signal.SIGINT, on_sigint)
        try:
            sys.stdout.write('ASSISTANT: ')
            sys.stdout.flush()
            worker = threading.Thread(target=run, daemon=True)
            worker.start()
            while worker.is_alive():
                worker.join(0.1)
        finally:
            signal.signal(signal.SIGINT, previous)
        interrupted = bool(interrupted)
        if 'exc' in box:
            print(f'\nerror: {type(box["exc"]).__name__}: {box["exc"]}',
                  flush=True)
            return
        result = box.get('result') or {}
        self.finish_stream(''.join(streamed), str(result.get('text') or ''),
                           interrupted)
        if interrupted or result.get('stopped'):
            print('[stopped]', flush=True)
        if result.get('error'):
            print(f'error: {result["error"]}', flush=True)
            return
        line = summary_line(result)
        if line:
            print(line, flush=True)

    @staticmethod
    def finish_stream(shown: str, text: str, interrupted: bool) -> None:
        """End the streamed line so that the terminal holds the answer.

        The stream can fall behind the answer (a piece that decodes to a
        partial character is replaced once the next token completes it, and
        the streamer sends nothing from there on): write what it missed, or,
        where what was shown is not the answer's beginning, the answer again.
        """
        if not interrupted and text != shown:
            if text.startswith(shown):
                sys.stdout.write(text[len(shown):])
            else:
                sys.stdout.write(f'\n(the answer as decoded) {text}')
        sys.stdout.write('\n')
        sys.stdout.flush()

    def loop(self) -> int:
        commands = dict(image=self.cmd_image, reset=self.cmd_reset,
                        save=self.cmd_save, help=self.cmd_help)
        # a library's warning printed in the middle of an answer garbles it
        warnings.simplefilter('ignore', UserWarning)
        warnings.simplefilter('ignore', FutureWarning)
        print(f'[chatting about {self.image}; /help for commands, an empty '
              'line or Ctrl-D ends]', flush=True)
        while True:
            try:
                line = input('USER: ')
            except EOFError:
                print(flush=True)
                return 0
            except KeyboardInterrupt:
                print(flush=True)
                return 0
            line = line.strip()
            if not line:
                return 0
            if line.startswith('/'):
                name, _, rest = line[1:].partition(' ')
                cmd = commands.get(name.lower())
                if cmd is None:
                    print(f'error: unknown command /{name}; /help lists them',
                          flush=True)
                    continue
                cmd(rest)
                continue
            self.ask(line)


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    if not osp.exists(args.model):
        fail(f'{args.model}: no such config file or model folder')
    if args.weights and not osp.isfile(args.weights):
        fail(f'{args.weights}: no such checkpoint')
    image = osp.expanduser(args.image)
    if not osp.isfile(image):
        fail(f'image {image} does not exist')
    try:
        import readline  # noqa: F401  (line editing and history in input())
    except ImportError:
        pass
    ensure_package()
    from llava_detseg.apis import LlavaDetSegInferencer, load_image
    try:
        load_image(image)  # before the model loads: fail in a second
    except (ValueError, FileNotFoundError) as e:
        fail(str(e))
    try:
        inferencer = LlavaDetSegInferencer(
            model=args.model, weights=args.weights, device=args.device,
            load_4bit=args.load_4bit, load_8bit=args.load_8bit,
            show_progress=False)
    except Exception as e:
        fail(f'cannot load the model from {args.model}: '
             f'{type(e).__name__}: {e}', code=1)
    session = inferencer.chat(
        image=image, max_new_tokens=args.max_new_tokens,
        temperature=args.temperature, top_p=args.top_p,
        pred_score_thr=args.pred_score_thr)
    return Chat(session, image, args).loop()


if __name__ == '__main__':
    os.environ.setdefault('TOKENIZERS_PARALLELISM', 'false')
    sys.exit(main())
