"""One path from instructions to answers.

A :class:`Request` is one instruction about one image: a question, or a
detection / segmentation request (the ``<DET>`` / ``<SEG>`` blocks it asks
for), or a compound of them, with the earlier turns of its conversation.
:func:`answer_requests` answers every request of a batch from the backbone
pass the model already made: questions through the language branch alone,
block requests through ``TextTaskIO`` (grounded mode: the dense heads'
results, already predicted on the same features, go into the prompt). The
dataset's VQA conversations and text instructions become requests too
(:func:`dataset_requests`), so ``tools/test.py``, the inferencer and the
demos share this code.
"""
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Tuple

from .constrained_decoding import tidy_answer
from .conversation import (IMAGE_TOKEN, Conversation, first_question,
                           insert_context, with_context)


@dataclass
class Request:
    """One instruction about one image.

    Attributes:
        question (str): The instruction. Text holding ``<image>`` is used
            verbatim as the first human turn (the datasets' questions);
            otherwise ``<image>`` is put in front of a conversation's first
            turn.
        det (list[int], optional): Detection classes a ``<DET>`` block is
            asked for (None: no block).
        seg (list[int], optional): Semantic labels a ``<SEG>`` block is
            asked for (None: no block).
        kind (str): ``'vqa'`` for a question, else the instruction kind
            (``det_all``, ``compound``, ... or ``'instruction'``).
        history (list): Earlier turns of this conversation as the model saw
            them (``{'from': 'human' | 'gpt', 'value': ...}``).
        gt (str | list[str], optional): Reference answer, or all the
            annotators' answers of a benchmark question (metrics).
        question_id (optional): A benchmark question's id (metrics).
        meta (dict): A benchmark question's other fields the metric reads
            (answer type, choices, split, subtask...).
    """
    question: str
    det: Optional[List[int]] = None
    seg: Optional[List[int]] = None
    kind: str = 'vqa'
    history: List[Dict[str, str]] = field(default_factory=list)
    gt: Optional[Any] = None
    question_id: Optional[Any] = None
    meta: Dict[str, Any] = field(default_factory=dict)

    @property
    def wants_blocks(self) -> bool:
        return self.det is not None or self.seg is not None

    def prompt(self, context: str = '', after_question: bool = False) -> str:
        """The human turn: ``<image>`` first in a new conversation, then the
        context (grounded requests), then the instruction; the context last
        with ``after_question`` (``text_cfg.vqa_context.position``)."""
        if IMAGE_TOKEN in self.question and not self.history:
            return insert_context(self.question, context, after_question)
        parts = [] if self.history else [IMAGE_TOKEN]
        lines = [self.question, context] if after_question else [
            context, self.question]
        return '\n'.join(parts + [x for x in lines if x])


@dataclass
class Response:
    """The answer to a :class:`Request`.

    Attributes:
        request (Request): What was asked.
        prompt (str): The human turn the model saw (context included).
        text (str): The answer (a separator left before a closing tag
            dropped).
        num_tokens (int): Generated tokens.
        truncated (bool): ``max_new_tokens`` ended it before the model did.
        max_new_tokens (int, optional): The budget it was generated with.
        box_scores (tuple[float]): The model's confidence in each
            ``<DET>`` box of ``text``, in order (``token_scores.py``).
    """
    request: Request
    prompt: str
    text: str
    num_tokens: int = 0
    truncated: bool = False
    max_new_tokens: Optional[int] = None
    box_scores: Tuple[float, ...] = ()


def dataset_requests(sample) -> List[Request]:
    """The requests a dataset sample carries: the first question of each
    of its ``conversations`` (scored by ``VQAMetric``), its benchmark
    questions (``vqa_questions`` of ``datasets/benchmarks``; scored by their
    benchmark's metric) and its ``text_conversations``
    (``GenerateTextInstructions``; scored by ``TextDetSegMetric``)."""
    out = []
    meta = sample.metainfo
    asks_vqa = 'vqa' in meta.get('tasks', ('vqa', ))
    for conv in meta.get('conversations', []) if asks_vqa else []:
        question, answer = first_question(conv)
        out.append(Request(question, kind='vqa', gt=answer))
    for item in meta.get('vqa_questions', []) if asks_vqa else []:
        out.append(Request(item['question'], kind='vqa',
                           gt=item.get('answers'),
                           question_id=item.get('question_id'),
                           meta=dict(item.get('meta') or {})))
    for item in sample.metainfo.get('text_conversations') or []:
        out.append(Request(item['question'], item.get('det'),
                           item.get('seg'), item.get('kind', 'instruction'),
                           gt=item.get('gt')))
    return out


class BatchImageTokens:
    """The language branch's (routed) image tokens of a batch, projected
    once, on first use, for every image that needs them: the questions, the
    block requests and the scored conversations all read them (as the
    losses train them), so routing and projection never run twice.

    Args:
        model (LlavaDetSeg): The model (``_vqa_tokens``).
        vit (ViTOutputs): The backbone's outputs for the batch.
        samples (list[DetDataSample]): The batch's samples.
        images (Sequence[int]): The batch rows that may be asked for.
    """

    def __init__(self, model, vit, samples, images: Sequence[int]) -> None:
        self._inputs = (model, vit, samples)
        self.images = sorted(set(images))
        self._tokens = None

    def __call__(self, images: Sequence[int]):
        """(len(images), N, D) tokens of those batch rows."""
        if self._tokens is None:
            model, vit, samples = self._inputs
            self._tokens = model._vqa_tokens(vit, self.images, samples)
        where = {i: k for k, i in enumerate(self.images)}
        return self._tokens[[where[i] for i in images]]


def answer_requests(model, vit, samples, requests: Sequence[List[Request]],
                    generation: Optional[dict] = None,
                    max_new_tokens: Optional[int] = None,
                    image_tokens: Optional[BatchImageTokens] = None
                    ) -> List[List[Response]]:
    """Answer ``requests[i]`` about image ``i`` of the batch.

    The heads' results must already be in ``samples`` (grounded contexts
    read ``pred_instances`` / ``pred_sem_seg``). Questions are answered in
    one batched ``generate``, block requests in another (their budget and
    constrained decoding differ). Block requests of a model without
    ``text_cfg`` get an empty answer: the caller reports the heads'
    results instead.

    Args:
        model (LlavaDetSeg): The model (its ``language`` and ``text``).
        vit (ViTOutputs): The backbone's outputs for the batch.
        samples (list[DetDataSample]): The batch's samples.
        requests (list[list[Request]]): Per image.
        generation (dict, optional): ``LlavaLanguageBranch.predict``'s
            ``generation`` (temperature, top_p, streamer, stopping).
        max_new_tokens (int, optional): Budget of every answer (default:
            ``language.max_new_tokens`` for questions, ``text_cfg``'s for
            block requests).
        image_tokens (BatchImageTokens, optional): The batch's projected
            tokens, shared with other users of the same pass (default: made
            here for the requested images).
    """
    out: List[List[Optional[Response]]] = [[None] * len(r) for r in requests]
    language, text = model.language, model.text
    groups: Dict[str, list] = dict(vqa=[], text=[])
    for i, reqs in enumerate(requests):
        for j, req in enumerate(reqs):
            if language is None or (req.wants_blocks and text is None):
                out[i][j] = Response(req, req.prompt(), '')
            else:
                groups['text' if req.wants_blocks else 'vqa'].append(
                    (i, j, req))
    if image_tokens is None:
        image_tokens = BatchImageTokens(
            model, vit, samples,
            [i for rows in groups.values() for i, _, _ in rows])
    for name, rows in groups.items():
        if not rows:
            continue
        images = sorted({i for i, _, _ in rows})
        local = {i: k for k, i in enumerate(images)}
        tokens = image_tokens(images)
        if name == 'vqa':
            # grounded VQA (text_cfg.vqa_context): a new conversation's
            # question reads the det head's boxes; follow-ups have them in
            # their history already
            contexts = [
                text.vqa_head_context(samples[i])
                if text is not None and not r.history else ''
                for i, _, r in rows
            ]
            budget = max_new_tokens or language.max_new_tokens
            processors = []
            after = text is not None and text.vqa_context_after_question
        else:
            contexts = [
                text.head_context(samples[i], dict(det=r.det, seg=r.seg))
                if text.mode == 'grounded' else '' for i, _, r in rows
            ]
            budget = max_new_tokens or text.max_new_tokens
            processors = text._processors(language, contexts, budget)
            after = False
        prompts = [r.prompt(c, after) for (_, _, r), c in zip(rows, contexts)]
        answers = language.predict(
            tokens, prompts, [local[i] for i, _, _ in rows],
            max_new_tokens=budget, logits_processor=processors,
            histories=[r.history for _, _, r in rows],
            generation=generation, return_details=True)
        for (i, j, req), prompt, ans in zip(rows, prompts, answers):
            answer = tidy_answer(ans.text) if name == 'text' else ans.text
            out[i][j] = Response(req, prompt, answer, ans.num_tokens,
                                 ans.truncated, budget, ans.box_scores)
    return out


def store_responses(samples, responses: Sequence[List[Response]]) -> None:
    """Put the answers on the samples: ``responses`` (every answer), and
    the fields the metrics read: ``questions`` / ``pred_answers`` /
    ``gt_answers`` (``VQAMetric``) and ``pred_texts`` / ``text_prompts`` /
    ``pred_text_box_scores`` (``TextDetSegMetric``)."""
    for sample, resp in zip(samples, responses):
        sample.responses = list(resp)
        vqa = [r for r in resp if not r.request.wants_blocks]
        if vqa:
            sample.questions = [r.request.question for r in vqa]
            sample.pred_answers = [r.text for r in vqa]
            sample.gt_answers = [r.request.gt for r in vqa]
            if any(r.request.question_id is not None or r.request.meta
                   for r in vqa):
                sample.question_ids = [r.request.question_id for r in vqa]
                sample.question_meta = [r.request.meta for r in vqa]
        text = [r for r in resp if r.request.wants_blocks]
        if text:
            sample.pred_texts = [r.text for r in text]
            sample.text_prompts = [r.prompt for r in text]
            sample.pred_text_box_scores = [list(r.box_scores) for r in text]


def history_turns(history: Sequence[tuple]) -> Conversation:
    """``[(prompt, answer), ...]`` as human / gpt turns."""
    return [dict(turn) for prompt, answer in history
            for turn in ((('from', 'human'), ('value', prompt)),
                         (('from', 'gpt'), ('value', answer)))]


def conversation_rows(samples) -> List[tuple]:
    """``(batch row, conversation)`` of every VQA sample's
    ``conversations`` (what :func:`score_conversations` scores)."""
    return [(i, conv) for i, s in enumerate(samples)
            if 'vqa' in s.metainfo.get('tasks', ('vqa', ))
            for conv in s.metainfo.get('conversations') or []]


def score_conversations(model, samples,
                        image_tokens: BatchImageTokens) -> None:
    """Teacher-forced answer-token loss of every sample's ``conversations``
    (all their answer turns): ``sample.answer_nll`` (summed negative
    log-likelihood, nats) and ``sample.answer_tokens`` (their count).

    Free-form answers (LLaVA-Instruct's paragraphs) cannot be scored by
    exact match; ``AnswerLossMetric`` turns these sums into the answer-token
    loss and perplexity of the held-out conversations.
    """
    import torch.nn.functional as F
    language = model.language
    rows = conversation_rows(samples)
    if language is None or not rows:
        return
    images = sorted({i for i, _ in rows})
    local = {i: k for k, i in enumerate(images)}
    tokens = image_tokens(images)
    text = model.text
    convs = [
        with_context(c, text.vqa_head_context(samples[i]) if text else '',
                     text is not None and text.vqa_context_after_question)
        for i, c in rows
    ]
    logits, target, seq = language.answer_logits(
        tokens, convs, [local[i] for i, _ in rows], return_rows=True)
    nll = F.cross_entropy(logits.float(), target, reduction='none')
    per_seq = nll.new_zeros(len(rows)).index_add(0, seq, nll)
    count = seq.bincount(minlength=len(rows))
    for i in images:
        mine = [k for k, (j, _) in enumerate(rows) if j == i]
        samples[i].answer_nll = float(per_seq[mine].sum())
        samples[i].answer_tokens = int(count[mine].sum())
