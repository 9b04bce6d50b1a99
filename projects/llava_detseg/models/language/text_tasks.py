"""Train and run the instructions answered with ``<DET>`` / ``<SEG>`` blocks."""
from typing import Callable, Dict, List, Optional, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from llava_detseg.structures import DetSegTextCodec
from .constrained_decoding import (LEVELS, DetSegConstraint,
                                   check_switch_prob, terminate_items)
from .conversation import IMAGE_TOKEN

MODES = ('grounded', 'generative')
# the constraint each mode decodes with unless ``constrain`` says otherwise
DEFAULT_LEVEL = dict(grounded='context', generative='grammar')


class TextTaskIO:
    """How the language branch answers ``text_conversations``.

    The samples' ``text_conversations`` come from
    ``GenerateTextInstructions``. Two modes, chosen by config:

    * ``'grounded'`` (default): the prompt is ``<image>\\n{context}\\n
      {question}``. When training, ``context`` is the sample's annotations
      serialized as blocks; when predicting it is the dense heads' results
      (boxes with score >= ``context_score_thr``, at most
      ``context_max_boxes``, and the predicted semantic map), so the
      language model selects, counts and copies what the heads found.
    * ``'generative'``: the prompt is ``<image>\\n{question}``; the language
      model writes the blocks from the visual tokens alone (Pix2Seq /
      Florence-2 style), trained on the serialized annotations.

    Args:
        classes (Sequence[str]): Detection class names.
        seg_classes (Sequence[str], optional): Semantic label names.
        mode (str): ``'grounded'`` or ``'generative'``.
        context_score_thr (float): Lowest score of a head box put in the
            context.
        context_max_boxes (int): Most head boxes put in the context.
        max_new_tokens (int): Generation budget of a text answer.
        loss_weight (float): Weight of the text answers' LM loss.
        loc_loss_weight (float): Relative weight of the ``<loc_i>`` answer
            tokens in that loss (the mean is taken over the weights). In
            grounded mode with ``constrain='context'`` the copied
            coordinates are fixed by the context, and the tokens the model
            must decide (class names, separators, closing tags, counts) are
            a small share of the answer; weighting the locs down (e.g. 0.1)
            spends the language model's capacity on those decisions.
        codec (dict, optional): Other ``DetSegTextCodec`` arguments.
        constrain (str, optional): Constrained decoding of the blocks
            (``constrained_decoding.py``): ``'context'`` (items are copied
            from the context, each class in context order; grounded mode
            only), ``'context_any'`` (any context item), ``'grammar'`` (the
            format only), ``None`` (free greedy decoding) or ``'auto'`` (default:
            ``'context'`` in grounded mode, ``'grammar'`` in generative).
        switch_prob (float, optional): At the context levels, copy each
            class whole as one run and start another class only where the
            model gives it at least this probability (among the classes
            with items left and the closing tag) and more than the closing
            tag, the context's first such class; otherwise close the block,
            so that an answer ends when the classes the model wants run out
            and keeps the context's order (see ``DetSegLogitsProcessor``).
            ``None``: the constraint's masking only. Default 0.1 (the value that kept "only {class}" purity
            above 0.99 on shapes val and a held-out split; 0.2 cost 0.02
            text-mAP there).
        terminate_items (bool): Train on answers whose every item ends with
            the separator (``a; b;</DET>``; ``pred_texts`` drop the last
            one), so that a block ends where the model chooses the next
            class: the position where class runs decide (``switch_prob``)
            is then one where the model was trained to close "only the
            circles" and to go on with "all objects". Default False.
        decision_loss_weight (float): Relative weight of the answer tokens
            that follow an open tag or an item separator (a class name or
            the closing tag: which classes to answer, where to stop), the
            decisions that ``switch_prob`` reads. The
            mean is taken over the weights, as for ``loc_loss_weight``.
            Default 1.0.
        run_loss_weight (float): Weight of those decision tokens that
            continue a class run (after an item of class *c*, *c* again).
            The decoder copies each run whole and never asks the model
            there; the decisions it does ask (the first class of a block,
            the class after a run's last item, the end of the block) are
            then a few among many run continuations, which the model cannot
            tell from them (it does not see whether the context has more of
            *c*). ``0.0`` trains only the decisions the
            decoder takes. Replaces ``decision_loss_weight`` on those
            tokens. Default 1.0.
        vqa_context (dict, optional): Put a ``<DET>`` block in front of
            every question too (grounded VQA): the annotated boxes when
            training, the det head's boxes with score >= ``score_thr``
            (at most ``max_boxes``, default ``context_max_boxes``) when
            predicting. Counting and "is there a ..." then read the heads'
            list, as the grounded instructions do; the block carries no
            scores, so the threshold is where a box counts. ``train_prob``
            (default 1.0): the share of training images whose questions get
            the block; the others answer from the image alone, which keeps
            the visual tokens trained for what the boxes do not say.
            ``position``: ``'image'`` (default) puts the block right after
            ``<image>``, ``'question'`` after the question, so that in a
            causal model the block's items see what is asked (the question
            then reads no box; the items can mark themselves as the ones
            asked about, as instruction-aware extractors do). None
            (default): questions see the image only.
    """

    def __init__(self,
                 classes: Sequence[str],
                 seg_classes: Optional[Sequence[str]] = None,
                 mode: str = 'grounded',
                 context_score_thr: float = 0.3,
                 context_max_boxes: int = 20,
                 max_new_tokens: int = 128,
                 loss_weight: float = 1.0,
                 loc_loss_weight: float = 1.0,
                 codec: Optional[dict] = None,
                 constrain: Optional[str] = 'auto',
                 switch_prob: Optional[float] = 0.1,
                 terminate_items: bool = False,
                 decision_loss_weight: float = 1.0,
                 run_loss_weight: float = 1.0,
                 vqa_context: Optional[dict] = None) -> None:
        if mode not in MODES:
            raise ValueError(f'text_cfg.mode must be one of {MODES}, got '
                             f'{mode!r}')
        if constrain == 'auto':
            constrain = DEFAULT_LEVEL[mode]
        if constrain is not None and constrain not in LEVELS:
            raise ValueError(f'text_cfg.constrain must be one of {LEVELS}, '
                             f'"auto" or None, got {constrain!r}')
        if constrain in ('context', 'context_any') and mode != 'grounded':
            raise ValueError(
                f'text_cfg.constrain={constrain!r} copies items from the '
                'grounded context; generative mode has none (use "grammar" '
                'or None)')
        self.mode = mode
        self.constrain = constrain
        # checked here, so a bad value fails at build, not at the first
        # prediction
        self.switch_prob = check_switch_prob(switch_prob,
                                             'text_cfg.switch_prob')
        self.terminate_items = terminate_items
        self._constraint: Optional[DetSegConstraint] = None
        self._loc_ids: Optional[Tensor] = None
        self.codec = DetSegTextCodec(classes, seg_classes, **(codec or {}))
        self.context_score_thr = context_score_thr
        self.context_max_boxes = context_max_boxes
        self.max_new_tokens = max_new_tokens
        self.loss_weight = loss_weight
        if loc_loss_weight < 0:
            raise ValueError('text_cfg.loc_loss_weight must be >= 0, got '
                             f'{loc_loss_weight}')
        self.loc_loss_weight = loc_loss_weight
        if decision_loss_weight < 0:
            raise ValueError('text_cfg.decision_loss_weight must be >= 0, '
                             f'got {decision_loss_weight}')
        self.decision_loss_weight = decision_loss_weight
        if run_loss_weight < 0:
            raise ValueError('text_cfg.run_loss_weight must be >= 0, got '
                             f'{run_loss_weight}')
        self.run_loss_weight = run_loss_weight
        self._decision_after: Optional[Tensor] = None
        self.vqa_context = _check_vqa_context(vqa_context,
                                              context_max_boxes)

    # ------------------------------------------------------------------
    def prompt(self, item: dict, context: str) -> str:
        """The human turn of an instruction (with its ``<image>``)."""
        if self.mode == 'grounded' and context:
            return f'{IMAGE_TOKEN}\n{context}\n{item["question"]}'
        return f'{IMAGE_TOKEN}\n{item["question"]}'

    def head_context(self, sample, item: dict) -> str:
        """The dense heads' results for ``sample`` as the blocks ``item``
        needs, in original-image coordinates."""
        shape = sample.ori_shape[:2]
        blocks = []
        if item.get('det') is not None:
            pred = sample.get('pred_instances')
            blocks.append(
                self.codec.det_block([]) if pred is None or len(pred) == 0
                else self._head_det_block(pred, shape, self.context_score_thr,
                                          self.context_max_boxes))
        if item.get('seg') is not None:
            pred = sample.get('pred_sem_seg')
            blocks.append(
                self.codec.seg_block([]) if pred is None else
                self.codec.encode_seg(pred.data[0]))
        return ' '.join(blocks)

    @property
    def vqa_context_after_question(self) -> bool:
        """Whether a question's ``<DET>`` block follows the question
        (``vqa_context.position='question'``) rather than ``<image>``."""
        return self.vqa_context is not None and \
            self.vqa_context['position'] == 'question'

    def vqa_head_context(self, sample) -> str:
        """A question's ``<DET>`` block from the det head's results ('' if
        ``vqa_context`` is off or the sample has none)."""
        pred = sample.get('pred_instances')
        if self.vqa_context is None or pred is None:
            return ''
        return self._head_det_block(pred, sample.ori_shape[:2],
                                    self.vqa_context['score_thr'],
                                    self.vqa_context['max_boxes'])

    def _head_det_block(self, pred, shape, score_thr: float,
                        max_boxes: int) -> str:
        """The head's boxes with score >= ``score_thr``, best first, at
        most ``max_boxes``, as a ``<DET>`` block."""
        pred = pred[pred.scores >= score_thr]
        items = self.codec.det_items(pred.bboxes, pred.labels, shape,
                                     pred.scores)
        return self.codec.det_block(items[:max_boxes])

    def vqa_train_context(self, sample) -> str:
        """A training question's ``<DET>`` block: the sample's annotated
        boxes, largest first (the heads' score order's stand-in, as
        ``GenerateTextInstructions`` writes contexts); '' for a share
        ``1 - train_prob`` of the samples."""
        gt = sample.get('gt_instances')
        if self.vqa_context is None or gt is None or \
                torch.rand(()) >= self.vqa_context['train_prob']:
            return ''
        boxes = getattr(gt.bboxes, 'tensor', gt.bboxes).detach().cpu()
        area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
        items = self.codec.det_items(boxes.numpy(), gt.labels.cpu().numpy(),
                                     sample.img_shape[:2], area.numpy())
        return self.codec.det_block(items[:self.vqa_context['max_boxes']])

    @staticmethod
    def _rows(samples) -> List[int]:
        return [
            i for i, s in enumerate(samples)
            if s.metainfo.get('text_conversations')
        ]

    @staticmethod
    def _tokens(language, hidden_states: Sequence[Tensor],
                rows: List[int]) -> Tensor:
        index = torch.as_tensor(rows, device=hidden_states[0].device)
        return language.image_tokens(
            [h.index_select(0, index) for h in hidden_states])

    # ------------------------------------------------------------------
    def loss(self, language, hidden_states: Sequence[Tensor], samples,
             tokens_fn: Optional[Callable[[List[int]], Tensor]] = None
             ) -> Dict[str, Tensor]:
        """LM loss on the text answers (``text.loss_lm``).

        ``tokens_fn(rows)`` gives the projected image tokens of those batch
        rows (the detector's, routed when it has a router); without it the
        chosen ViT layer is projected here.
        """
        rows = self._rows(samples)
        if not rows:
            return {}
        convs, owner = [], []
        for row, i in enumerate(rows):
            for item in samples[i].metainfo['text_conversations']:
                prompt = self.prompt(item, item.get('context', ''))
                answer = item['answer']
                if self.terminate_items:
                    answer = terminate_items(answer)
                convs.append([{'from': 'human', 'value': prompt},
                              {'from': 'gpt', 'value': answer}])
                owner.append(row)
        tokens = (tokens_fn(rows) if tokens_fn is not None else
                  self._tokens(language, hidden_states, rows))
        if self.loc_loss_weight == self.decision_loss_weight == \
                self.run_loss_weight == 1.0:
            loss = language.loss(tokens, convs, owner)['loss_lm']
            return {'text.loss_lm': loss * self.loss_weight}
        logits, target, seq = language.answer_logits(tokens, convs, owner,
                                                     return_rows=True)
        per_token = F.cross_entropy(logits.float(), target, reduction='none')
        weight = torch.ones_like(per_token)
        weight[self._is_loc(language, target)] = self.loc_loss_weight
        if self.decision_loss_weight != 1.0 or self.run_loss_weight != 1.0:
            decision = self._is_decision(language, target, seq)
            weight[decision] = self.decision_loss_weight
            if self.run_loss_weight != self.decision_loss_weight:
                weight[self._continues_run(language, target, seq,
                                           decision)] = self.run_loss_weight
        loss = (per_token * weight).sum() / weight.sum().clamp_min(1e-6)
        return {'text.loss_lm': loss * self.loss_weight}

    def _is_decision(self, language, target: Tensor, seq: Tensor) -> Tensor:
        """Which targets follow an open tag or an item separator in the
        same answer: a class name or the closing tag, the choices that the
        class-switch and run-stop rules read at test time."""
        if self._decision_after is None or \
                self._decision_after.device != target.device:
            self._decision_after = torch.as_tensor(
                sorted(self._format_constraint(language).decision_after()),
                device=target.device)
        prev = torch.cat([target.new_full((1, ), -1), target[:-1]])
        same = torch.cat([seq.new_zeros(1, dtype=torch.bool),
                          seq[1:] == seq[:-1]])
        return same & torch.isin(prev, self._decision_after)

    def _continues_run(self, language, target: Tensor, seq: Tensor,
                       decision: Tensor) -> Tensor:
        """Which decision targets start an item of the same class as the
        previous item of their block (a class run going on)."""
        vocab = self._format_constraint(language).vocab
        # a class name ends at the first loc / <poly> / closing tag
        stops = set(vocab.locs) | {vocab.poly_open, *vocab.close.values()}
        opens = set(vocab.open.values())
        tokens, rows = target.tolist(), seq.tolist()
        out = torch.zeros_like(decision)
        prev_key, prev_row = None, None
        for i in range(len(tokens)):
            if tokens[i] in opens or rows[i] != prev_row:
                prev_key, prev_row = None, rows[i]  # a new block or answer
            if not decision[i] or tokens[i] in stops:
                continue
            j = i
            while j < len(tokens) and rows[j] == rows[i] and \
                    tokens[j] not in stops:
                j += 1
            # the name as text: the first item of a block is tokenized
            # behind the open tag, later ones behind the separator
            key = language.tokenizer.decode(tokens[i:j]).strip()
            out[i] = key == prev_key
            prev_key = key
        return out

    def _format_constraint(self, language) -> DetSegConstraint:
        """The constraint (built once) whose vocabulary the loss reads."""
        if self._constraint is None:
            self._constraint = DetSegConstraint(
                language.tokenizer, self.codec, self.constrain or 'grammar',
                getattr(language, 'name_spacing', False))
        return self._constraint

    def _is_loc(self, language, target: Tensor) -> Tensor:
        """Which targets are ``<loc_i>`` tokens."""
        if self._loc_ids is None or self._loc_ids.device != target.device:
            ids = language.tokenizer.convert_tokens_to_ids(
                [f'<loc_{i}>' for i in range(self.codec.num_bins)])
            self._loc_ids = torch.as_tensor(ids, device=target.device)
        return torch.isin(target, self._loc_ids)

    def _processors(self, language, contexts: List[str],
                    max_new_tokens: Optional[int] = None) -> list:
        """The constrained decoder of one ``generate`` call (none with
        ``constrain=None``); ``max_new_tokens`` defaults to the config's."""
        if self.constrain is None:
            return []
        constraint = self._format_constraint(language)
        return [constraint.processor(contexts,
                                     max_new_tokens or self.max_new_tokens,
                                     self.switch_prob)]


def _check_vqa_context(cfg: Optional[dict], max_boxes: int
                       ) -> Optional[dict]:
    """``text_cfg.vqa_context`` with its defaults, or a ``ValueError``
    naming the bad key."""
    if cfg is None:
        return None
    out = dict(score_thr=0.3, max_boxes=max_boxes, train_prob=1.0,
               position='image')
    unknown = set(cfg) - set(out)
    if unknown:
        raise ValueError(f'text_cfg.vqa_context: unknown keys '
                         f'{sorted(unknown)}; known: {sorted(out)}')
    out.update(cfg)
    if not 0.0 <= float(out['score_thr']) <= 1.0:
        raise ValueError('text_cfg.vqa_context.score_thr must be in [0, 1], '
                         f'got {out["score_thr"]}')
    if not 0.0 <= float(out['train_prob']) <= 1.0:
        raise ValueError('text_cfg.vqa_context.train_prob must be in [0, 1], '
                         f'got {out["train_prob"]}')
    if out['position'] not in ('image', 'question'):
        raise ValueError('text_cfg.vqa_context.position must be "image" or '
                         f'"question", got {out["position"]!r}')
    if int(out['max_boxes']) < 1:
        raise ValueError('text_cfg.vqa_context.max_boxes must be >= 1, got '
                         f'{out["max_boxes"]}')
    return out
