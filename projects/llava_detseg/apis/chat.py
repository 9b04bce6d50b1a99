"""Multi-turn chat about one image at a time, with streamed answers."""
import json
import os
import os.path as osp
import threading
from typing import Callable, List, Optional, Tuple, Union

import mmcv
import numpy as np
import torch
from transformers import StoppingCriteria, StoppingCriteriaList
from transformers.generation.streamers import BaseStreamer

from llava_detseg.models.language.name_spacing import unspace_after_open
from llava_detseg.models.language.responder import history_turns
from .images import load_image


class CallbackStreamer(BaseStreamer):
    """A transformers streamer that hands each new piece of the decoded
    answer to ``on_token`` (one sequence; the prompt is not echoed: the
    language branch generates from embeddings, so the first ``put`` holds no
    prompt ids)."""

    def __init__(self, tokenizer, on_token: Callable[[str], None],
                 name_spacing: bool = False) -> None:
        self.tokenizer, self.on_token = tokenizer, on_token
        self.name_spacing = name_spacing
        self.ids: List[int] = []
        self.sent = ''

    def put(self, value: torch.Tensor) -> None:
        ids = value.reshape(-1).tolist()
        if not ids:
            return
        self.ids += ids
        text = self.tokenizer.decode(self.ids, skip_special_tokens=True)
        if self.name_spacing:
            text = unspace_after_open(text)
        text = text.lstrip()
        # a token that ends inside a character decodes to U+FFFD until the
        # next one completes it: hold that tail back, and emit only what
        # extends the text already sent
        text = text.rstrip('\ufffd')
        if text.startswith(self.sent) and len(text) > len(self.sent):
            self.on_token(text[len(self.sent):])
            self.sent = text

    def end(self) -> None:
        pass


class StopOnEvent(StoppingCriteria):
    """Stop generating once ``event`` is set (a stop button, Ctrl-C)."""

    def __init__(self, event: threading.Event) -> None:
        self.event = event

    def __call__(self, input_ids, scores, **kwargs) -> torch.Tensor:
        return torch.full((input_ids.shape[0], ), self.event.is_set(),
                          dtype=torch.bool, device=input_ids.device)


class ChatSession:
    """A conversation with the model about one image at a time.

    Each session holds its own image, history and last result, so a web
    server keeps one per browser session. As in LLaVA, a conversation is
    about one image: :meth:`set_image` starts a new one (the earlier turns
    stay in :attr:`transcript`).

    Args:
        inferencer (LlavaDetSegInferencer): Shared, loaded once.
        image: A path or a BGR array (or None, set later).
        max_new_tokens, temperature, top_p, pred_score_thr: Defaults of
            :meth:`ask`.
    """

    def __init__(self, inferencer, image=None,
                 max_new_tokens: Optional[int] = None,
                 temperature: float = 0.0, top_p: float = 1.0,
                 pred_score_thr: Optional[float] = None) -> None:
        self.inferencer = inferencer
        self.settings = dict(max_new_tokens=max_new_tokens,
                             temperature=temperature, top_p=top_p,
                             pred_score_thr=pred_score_thr)
        self.image: Optional[np.ndarray] = None
        self.image_name = ''
        self.turns: List[Tuple[str, str]] = []  # (prompt seen, answer)
        self.history: List[Tuple[str, str]] = []  # (question, answer)
        self.transcript: List[dict] = []
        self.last: Optional[dict] = None
        if image is not None:
            self.set_image(image)

    def set_image(self, image: Union[str, np.ndarray]) -> None:
        """Start a new conversation about ``image`` (raises ``ValueError`` /
        ``FileNotFoundError`` for an unreadable one; the session keeps its
        current image then)."""
        array = load_image(image)
        self.image = array
        self.image_name = image if isinstance(image, str) else 'image'
        self.reset()
        self.transcript.append(dict(image=self.image_name))

    def reset(self) -> None:
        """Forget the conversation (the image stays)."""
        self.turns, self.history, self.last = [], [], None

    def ask(self, text: str,
            on_token: Optional[Callable[[str], None]] = None,
            stop_event: Optional[threading.Event] = None,
            **settings) -> dict:
        """Answer ``text`` about the current image, after the earlier turns.

        Args:
            text (str): The instruction.
            on_token (callable, optional): Gets each new piece of the
                answer as it is generated.
            stop_event (threading.Event, optional): Set it to stop the
                answer where it is (the result is marked ``stopped``).
            **settings: ``max_new_tokens``, ``temperature``, ``top_p``,
                ``pred_score_thr`` for this turn.

        Returns:
            dict: The prediction (see ``LlavaDetSegInferencer``); a bad
            input gives one with ``error`` set, never an exception.
        """
        opts = {**self.settings, **{k: v for k, v in settings.items()
                                    if v is not None}}
        inf = self.inferencer
        gen = inf.generation_settings(opts['max_new_tokens'],
                                      opts['temperature'], opts['top_p'])
        thr = inf.default_score_thr if opts['pred_score_thr'] is None \
            else float(opts['pred_score_thr'])
        if self.image is None:
            from .results import error_dict
            return error_dict('', text, 'no image: set one first (upload '
                              'one, or /image PATH)', gen, thr)
        stream = {}
        if on_token is not None:
            language = inf.model.language
            stream['streamer'] = CallbackStreamer(
                language.tokenizer, on_token,
                getattr(language, 'name_spacing', False))
        if stop_event is not None:
            stream['stopping_criteria'] = StoppingCriteriaList(
                [StopOnEvent(stop_event)])
        (pred, sample, _), = inf.run_batch(
            [self.image], [text], thr, gen,
            histories=[history_turns(self.turns)], stream=stream)
        pred['image'] = self.image_name
        pred['stopped'] = bool(stop_event is not None and stop_event.is_set())
        if pred['error'] is None:
            self.turns.append((sample.responses[0].prompt, pred['text']))
            self.history.append((text, pred['text']))
            self.transcript.append(dict(question=text, answer=pred['text']))
        self.last = pred
        return pred

    def draw(self, result: Optional[dict] = None) -> Optional[np.ndarray]:
        """The drawing (RGB) of ``result`` (default the last answer)."""
        result = result or self.last
        if result is None or result.get('error') or self.image is None:
            return None
        return self.inferencer.draw(self.image, result)

    def save(self, out_dir: str) -> Tuple[str, str]:
        """Write the last answer's drawing and JSON; their paths."""
        if self.last is None:
            raise ValueError('nothing to save yet: ask something first')
        os.makedirs(out_dir, exist_ok=True)
        stem = osp.splitext(osp.basename(self.image_name or 'image'))[0]
        stem = f'{stem}_turn{len(self.history)}'
        png = osp.join(out_dir, f'{stem}.png')
        drawing = self.draw()
        if drawing is not None:
            mmcv.imwrite(drawing[..., ::-1], png)
        path = osp.join(out_dir, f'{stem}.json')
        with open(path, 'w') as f:
            json.dump(self.last, f, indent=1)
        return png, path
