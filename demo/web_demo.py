"""A Gradio web demo: upload an image, ask, watch the answer stream in.

The web counterpart of LLaVA's Gradio server: the model loads once, a queue
serves the users in turn, and each browser session keeps its own
``ChatSession`` (history, image, last result) in ``gr.State``. Boxes and
masks of the answer are drawn over the image with a legend
(``gr.AnnotatedImage``); the JSON of the last answer can be downloaded.

Example::

    python demo/web_demo.py configs/llava-detseg_clip-tiny_llama-tiny_1xb16-7e_shapes_text-grounded.py \\
        --weights "$(cat work_dirs/demo/last_checkpoint)" --port 7860
"""
import argparse
import json
import os
import os.path as osp
import queue
import sys
import tempfile
import threading
from typing import List, Optional

os.environ.setdefault('GRADIO_ANALYTICS_ENABLED', 'False')
ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='LLaVA-DetSeg web demo')
    parser.add_argument('model', help='a config file or an exported folder')
    parser.add_argument('--weights', help='checkpoint for a config')
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--host', default='127.0.0.1')
    parser.add_argument('--port', type=int, default=7860)
    parser.add_argument('--concurrency', type=int, default=1,
                        help='answers generated at once (the queue serves '
                        'the other users in turn)')
    return parser.parse_args(argv)


class _Session:
    """One browser session: its chat, its stop flag, its image's id."""

    def __init__(self, inferencer) -> None:
        self.chat = inferencer.chat()
        self.stop = threading.Event()
        self.image_key = None
        self.messages: List[dict] = []


def _annotations(pred: dict) -> list:
    """``gr.AnnotatedImage`` annotations: masks and boxes with labels."""
    import numpy as np
    import pycocotools.mask as mask_utils
    out = []
    for m in pred.get('masks', []):
        rle = dict(m['rle'], counts=m['rle']['counts'].encode('ascii'))
        out.append((mask_utils.decode(rle).astype(np.float32),
                    f"mask: {m['class']}"))
    for b in pred.get('boxes', []):
        x1, y1, x2, y2 = (int(round(v)) for v in b['bbox'])
        out.append(((x1, y1, max(x2, x1 + 1), max(y2, y1 + 1)),
                    f"{b['class']} {b['score']:.2f}"))
    return out


def build_demo(inferencer):
    """The app (``gr.Blocks``) around one loaded inferencer."""
    import gradio as gr

    def ensure(state):
        return state if state is not None else _Session(inferencer)

    def respond(state, image, text, temperature, max_tokens, thr):
        state = ensure(state)
        state.stop.clear()
        messages = state.messages
        text = text or ''
        messages.append(dict(role='user', content=text or '(empty)'))
        if image is None:
            messages.append(dict(role='assistant',
                                 content='Please upload an image first.'))
            yield state, list(messages), None, None, ''
            return
        key = (image.shape, hash(image[::7, ::7].tobytes()))
        if key != state.image_key:
            try:
                state.chat.set_image(image[..., ::-1].copy())  # RGB -> BGR
            except (ValueError, TypeError) as e:
                messages.append(dict(role='assistant',
                                     content=f'Error: {e}'))
                yield state, list(messages), None, None, ''
                return
            state.image_key = key
        messages.append(dict(role='assistant', content=''))
        pieces: queue.Queue = queue.Queue()
        box = {}

        def work():
            box['pred'] = state.chat.ask(
                text, on_token=pieces.put, stop_event=state.stop,
                temperature=temperature, max_new_tokens=int(max_tokens),
                pred_score_thr=thr)

        worker = threading.Thread(target=work, daemon=True)
        worker.start()
        shown = ''
        while worker.is_alive() or not pieces.empty():
            try:
                shown += pieces.get(timeout=0.1)
            except queue.Empty:
                continue
            messages[-1]['content'] = shown
            yield state, list(messages), None, None, ''
        worker.join()
        pred = box.get('pred') or {}
        if pred.get('error'):
            messages[-1]['content'] = f"Error: {pred['error']}"
            yield state, list(messages), None, None, ''
            return
        summary = []
        if pred.get('boxes'):
            summary.append(f"{len(pred['boxes'])} boxes")
        if pred.get('masks'):
            summary.append(f"{len(pred['masks'])} masks")
        if pred.get('truncated'):
            summary.append('cut at max new tokens')
        if pred.get('stopped'):
            summary.append('stopped')
        messages[-1]['content'] = pred.get('text', shown) + (
            f"\n\n[{', '.join(summary)}]" if summary else '')
        path = osp.join(tempfile.mkdtemp(prefix='llava_detseg_'),
                        'prediction.json')
        with open(path, 'w') as f:
            json.dump(pred, f, indent=1)
        status = f"{len(pred.get('boxes', []))} boxes, " \
            f"{len(pred.get('masks', []))} masks"
        yield (state, list(messages), (image, _annotations(pred)), path,
               status)

    def stop(state):
        if state is not None:
            state.stop.set()
        return state

    def clear(state):
        state = ensure(state)
        state.chat.reset()
        state.messages = []
        return state, [], None, None, ''

    with gr.Blocks(title='LLaVA-DetSeg') as demo:
        gr.Markdown('# LLaVA-DetSeg\nAsk a question, or ask it to detect '
                    'and segment: "Detect the circles and segment the '
                    'triangles."')
        state = gr.State(None)
        with gr.Row():
            with gr.Column(scale=1):
                image = gr.Image(type='numpy', label='Image',
                                 elem_id='input-image')
                temperature = gr.Slider(0.0, 1.5, value=0.0, step=0.1,
                                        label='Temperature')
                max_tokens = gr.Slider(8, 512, value=320, step=8,
                                       label='Max new tokens')
                thr = gr.Slider(0.0, 1.0,
                                value=inferencer.default_score_thr,
                                step=0.05, label='Score threshold')
            with gr.Column(scale=2):
                chatbot = gr.Chatbot(label='Conversation', height=320,
                                     elem_id='chatbot')
                text = gr.Textbox(label='Instruction', elem_id='instruction',
                                  placeholder='Detect the circles and '
                                  'segment the triangles.')
                with gr.Row():
                    send = gr.Button('Send', variant='primary',
                                     elem_id='send')
                    stop_btn = gr.Button('Stop', elem_id='stop')
                    clear_btn = gr.Button('Clear', elem_id='clear')
                gr.Examples(inferencer.example_instructions, inputs=text)
        with gr.Row():
            drawn = gr.AnnotatedImage(label='Boxes and masks',
                                      elem_id='overlay')
            with gr.Column():
                status = gr.Textbox(label='Result', elem_id='status',
                                    interactive=False)
                download = gr.File(label='Prediction (JSON)')
        inputs = [state, image, text, temperature, max_tokens, thr]
        outputs = [state, chatbot, drawn, download, status]
        ev1 = send.click(respond, inputs, outputs)
        ev2 = text.submit(respond, inputs, outputs)
        stop_btn.click(stop, [state], [state], cancels=[ev1, ev2],
                       queue=False)
        clear_btn.click(clear, [state], outputs)
    return demo


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    for path, what in ((args.model, 'model'), (args.weights, 'weights')):
        if path is not None and not osp.exists(path):
            print(f'error: {what} {path} does not exist', file=sys.stderr)
            return 2
    sys.path.insert(0, osp.join(ROOT, 'projects'))
    from llava_detseg.apis import LlavaDetSegInferencer
    inferencer = LlavaDetSegInferencer(args.model, args.weights,
                                       device=args.device,
                                       show_progress=False)
    demo = build_demo(inferencer)
    demo.queue(default_concurrency_limit=args.concurrency)
    demo.launch(server_name=args.host, server_port=args.port,
                share=False, show_error=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
