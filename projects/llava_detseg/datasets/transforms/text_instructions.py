"""Instructions whose answers are ``<DET>`` / ``<SEG>`` blocks, from annotations."""
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
from mmcv.transforms import BaseTransform

from llava_detseg.registry import TRANSFORMS
from llava_detseg.structures import DetSegTextCodec

KINDS = ('det_all', 'det_class', 'seg_all', 'seg_class', 'compound',
         'count', 'where')
TEST_KINDS = ('det_all', 'seg_all', 'det_class', 'count')
# kinds whose answer has one block, so a count of its items
COUNTABLE = ('det_all', 'det_class', 'seg_all', 'seg_class', 'count')
ANSWER_ORDERS = ('context', 'class', 'confidence')
# kinds with a fixed test form (GenerateTextInstructions(test_kinds=...))
TEST_FORMS = ('det_all', 'seg_all', 'det_class', 'seg_class', 'count')
# First template of each kind is the one used in test mode.
TEMPLATES: Dict[str, Sequence[str]] = dict(
    det_all=('Detect all objects.', 'Find all objects.'),
    det_class=('Detect only the {plural}.', 'Find every {cls}.'),
    seg_all=('Segment all objects.', ),
    seg_class=('Segment the {cls}.', 'Segment every {cls}.'),
    compound=('Detect the {plural} and segment the {plural2}.', ),
    count=('How many {plural} are there?', ),
    where=('Where is the {ordinal} {cls} from the left?', ),
)
ORDINALS = ('first', 'second', 'third', 'fourth', 'fifth')
# plurals that the suffix rules of ``pluralize`` get wrong (COCO / ADE20K)
_IRREGULAR = dict(person='people', mouse='mice', sheep='sheep',
                  skis='skis', scissors='scissors', glasses='glasses',
                  grass='grass', water='water', sand='sand', snow='snow',
                  earth='earth', sky='sky', knife='knives', shelf='shelves',
                  bus='buses', bench='benches', bookcase='bookcases')


def pluralize(name: str) -> str:
    """English plural of a class name, on its last word ("traffic light"
    -> "traffic lights", "bus" -> "buses", "person" -> "people")."""
    head, _, last = name.rpartition(' ')
    low = last.lower()
    if low in _IRREGULAR:
        plural = _IRREGULAR[low]
    elif low.endswith(('s', 'x', 'z', 'ch', 'sh')):
        plural = last + 'es'
    elif low.endswith('y') and low[-2:-1] not in tuple('aeiou'):
        plural = last[:-1] + 'ies'
    else:
        plural = last + 's'
    return f'{head} {plural}' if head else plural


def _check_kinds(kinds: Sequence[str], known: Sequence[str],
                 message: str) -> None:
    """``ValueError`` (``message`` formatted with the kinds outside
    ``known`` and ``known``) if ``kinds`` has any."""
    bad = set(kinds) - set(known)
    if bad:
        raise ValueError('GenerateTextInstructions: ' +
                         message.format(sorted(bad), tuple(known)))


@TRANSFORMS.register_module()
class GenerateTextInstructions(BaseTransform):
    """Add instructions answered with text blocks (``text_conversations``).

    From a sample's boxes and semantic map it writes instructions such as
    "Detect all objects.", "Find every {cls}.", "Segment the {cls}.",
    "Detect the circles and segment the squares.", "How many circles are
    there?" and "Where is the second square from the left?", each with

    * ``context``: the annotations serialized as blocks (boxes largest
      first, standing in for the detector's score order); in grounded mode
      the model puts it before the question when training and replaces it
      with its own heads' results when predicting;
    * ``answer``: ``Answer:`` (``Answer: {n}`` for the ``count_kinds``)
      plus the context's items that the instruction selects, in context
      order (so in grounded mode the language model learns to filter and
      copy, in generative mode to write the same blocks from pixels);
    * ``kind``, ``det`` / ``seg`` (class indices the blocks keep, ``None``
      when the block is not asked for) and ``gt`` (reference text answer).

    Put it after the geometric transforms (its coordinates are relative to
    the frame named by ``coords``) and before ``PackMultiTaskInputs``.

    Args:
        classes (Sequence[str]): Detection class names.
        seg_classes (Sequence[str], optional): Semantic label names
            (default ``('background', *classes)``).
        kinds (Sequence[str]): Instruction kinds to draw from (:data:`KINDS`);
            a kind listed twice is drawn about twice as often.
        num_per_image (int, optional): Random instructions per sample;
            ``None`` (test mode): a fixed set (first templates) of the
            ``test_kinds`` that are also in ``kinds``.
        test_kinds (Sequence[str]): The fixed set of test mode: ``det_all``
            and ``seg_all`` once, ``det_class`` once per class present,
            ``seg_class`` once per class present in the map, ``count`` once.
            Default ``('det_all', 'seg_all', 'det_class', 'count')``.
        coords (str): ``'img_shape'`` when boxes / maps were resized with the
            image (training pipelines), ``'ori_shape'`` when they were loaded
            after ``Resize`` (test pipelines).
        plurals (dict, optional): Plural of each class name (default
            :func:`pluralize`).
        codec (dict, optional): Other ``DetSegTextCodec`` arguments.
        context_noise (dict, optional): Training only: make the ``<DET>``
            context of ``det_all`` / ``det_class`` / ``compound`` instructions
            look like a detector's output, with probability ``prob``: the
            annotated boxes get scores drawn from ``gt_score``, up to
            ``max_extra`` extra boxes (jittered copies of annotated boxes
            with any class, or random boxes) get scores from
            ``extra_score``, and the block is written in score order. The
            answer selects from that context as always, so the language
            model learns to copy the heads' list, whatever its length,
            instead of writing as many boxes as it sees objects. ``count``
            and ``where`` keep the annotations (their answers are facts
            about the image). ``answer``: ``'all'`` (default) selects from
            every context item; ``'annotated'`` leaves the extras out, so
            that the model learns to judge each box it copies (its
            probability of writing an item is then a confidence the
            heads' scores do not give it). Default None: annotations only.
        answer_order (str): Order of the items an answer selects from a
            ``<DET>`` context: ``'context'`` (default: the context's, i.e.
            score order), ``'class'`` (grouped by class in class-index
            order, each class in context order, as ``<SEG>`` blocks always
            are) or ``'confidence'`` (grouped by class, the class whose
            first item comes first in the context first, each class in
            context order: a context in score order puts the class of the
            heads' most confident box first, so the answer's class order
            says which classes the model is surest of). The class orders
            match grounded decoding with class runs
            (``text_cfg.switch_prob``): the model then learns where one
            class ends and which begins next, which class runs ask it.
            ``'confidence'`` answers are what the text metric's rank
            scores read (``text_parse.answer_rank_scores``).
        count_kinds (Sequence[str]): Kinds whose answer text is the number
            of items their block holds (``Answer: 3 <DET>…``); the others
            answer ``Answer: <DET>…``. Default ``('count',)``: a number
            written before the block is a commitment the block then keeps,
            and a model that miscounts a "detect all" context closes the
            block at its count, dropping whole classes
            (configs/text/README.md).
    """

    def __init__(self,
                 classes: Sequence[str],
                 seg_classes: Optional[Sequence[str]] = None,
                 kinds: Sequence[str] = KINDS,
                 num_per_image: Optional[int] = 2,
                 test_kinds: Sequence[str] = TEST_KINDS,
                 coords: str = 'img_shape',
                 plurals: Optional[Dict[str, str]] = None,
                 codec: Optional[dict] = None,
                 context_noise: Optional[dict] = None,
                 answer_order: str = 'context',
                 count_kinds: Sequence[str] = ('count', )) -> None:
        _check_kinds(kinds, KINDS, 'unknown kinds {}; known: {}')
        if coords not in ('img_shape', 'ori_shape'):
            raise ValueError('GenerateTextInstructions: coords must be '
                             f'"img_shape" or "ori_shape", got {coords!r}')
        if answer_order not in ANSWER_ORDERS:
            raise ValueError('GenerateTextInstructions: answer_order must be '
                             f'one of {ANSWER_ORDERS}, got {answer_order!r}')
        self.answer_order = answer_order
        _check_kinds(count_kinds, COUNTABLE,
                     'count_kinds {} have no item count; countable: {}')
        self.count_kinds = tuple(count_kinds)
        if num_per_image is not None and num_per_image < 1:
            raise ValueError('GenerateTextInstructions: num_per_image must '
                             f'be >= 1 or None, got {num_per_image}')
        self.codec = DetSegTextCodec(classes, seg_classes, **(codec or {}))
        self.kinds = tuple(kinds)
        _check_kinds(test_kinds, TEST_FORMS,
                     'test_kinds {} have no fixed test form; known: {}')
        self.test_kinds = tuple(test_kinds)
        self.num_per_image = num_per_image
        self.coords = coords
        self.plurals = {c: (plurals or {}).get(c, pluralize(c))
                        for c in self.codec.classes}
        self.context_noise = None
        if context_noise is not None:
            noise = dict(prob=0.5, max_extra=8, gt_score=(0.3, 1.0),
                         extra_score=(0.1, 0.6), answer='all')
            unknown = set(context_noise) - set(noise)
            if unknown:
                raise ValueError('GenerateTextInstructions: unknown '
                                 f'context_noise keys {sorted(unknown)}; '
                                 f'known: {sorted(noise)}')
            noise.update(context_noise)
            if noise['answer'] not in ('all', 'annotated'):
                raise ValueError('GenerateTextInstructions: context_noise.'
                                 'answer must be "all" or "annotated", got '
                                 f'{noise["answer"]!r}')
            self.context_noise = noise

    # ------------------------------------------------------------------
    def transform(self, results: dict) -> dict:
        shape = results[self.coords][:2]
        boxes = results.get('gt_bboxes')
        boxes = np.zeros((0, 4)) if boxes is None else np.asarray(
            boxes.numpy() if hasattr(boxes, 'numpy') else boxes,
            np.float64).reshape(-1, 4)
        labels = np.asarray(
            results.get('gt_bboxes_labels', np.zeros(0)), np.int64)
        area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
        det = self.codec.det_items(boxes, labels, shape, scores=area)
        sem = results.get('gt_seg_map')
        seg = self.codec.seg_items(sem) if sem is not None else None
        order = np.argsort(-area, kind='stable')
        ctx = dict(det=det, seg=seg, boxes=boxes[order], labels=labels[order])
        noise = self.context_noise
        if noise is not None and self.num_per_image is not None and \
                np.random.rand() < noise['prob']:
            ctx['noisy_det'], ctx['noisy_annotated'] = self._noisy_det(
                boxes, labels, shape)
        makers = [k for k in self.kinds if self._applicable(k, ctx)]
        out = []
        if self.num_per_image is None:
            out = self._test_set(ctx, makers)
        elif makers:
            n = min(self.num_per_image, len(makers))
            for k in np.random.choice(len(makers), n, replace=False):
                out.append(self._make(makers[k], ctx, test=False))
        results['text_conversations'] = [o for o in out if o is not None]
        return results

    def _noisy_det(self, boxes: np.ndarray, labels: np.ndarray,
                   shape) -> Tuple[list, List[bool]]:
        """Det items of the boxes plus detector-like extras, by score, and
        whether each item is an annotated box."""
        noise = self.context_noise
        h, w = float(shape[0]), float(shape[1])
        n = len(boxes)
        scores = list(np.random.uniform(*noise['gt_score'], size=n))
        all_boxes, all_labels = list(boxes), list(labels)
        for _ in range(np.random.randint(noise['max_extra'] + 1)):
            if n and np.random.rand() < 0.7:  # a near-duplicate
                box = boxes[np.random.randint(n)].astype(np.float64)
                size = np.tile(box[2:] - box[:2], 2)
                box = box + np.random.normal(0, 0.1, 4) * size
            else:  # a box anywhere
                centre = np.random.uniform(0, 1, 2) * (w, h)
                half = np.random.uniform(0.03, 0.15, 2) * (w, h)
                box = np.concatenate([centre - half, centre + half])
            box = np.clip(box, 0, [w, h, w, h])
            if box[2] - box[0] < 1 or box[3] - box[1] < 1:
                continue
            all_boxes.append(box)
            all_labels.append(np.random.randint(len(self.codec.classes)))
            scores.append(np.random.uniform(*noise['extra_score']))
        scores = np.asarray(scores)
        items = self.codec.det_items(
            np.asarray(all_boxes, np.float64).reshape(-1, 4),
            np.asarray(all_labels, np.int64), shape, scores=scores)
        # det_items' order: by score, stable, cut at max_boxes
        order = np.argsort(-scores, kind='stable')[:len(items)]
        return items, (order < n).tolist()

    def _applicable(self, kind: str, ctx: dict) -> bool:
        if kind.startswith('seg') or kind == 'compound':
            return ctx['seg'] is not None
        if kind == 'where':
            return len(ctx['det']) > 0
        return True

    def _test_set(self, ctx: dict, makers: List[str]) -> List[dict]:
        out = []
        makers = [k for k in makers if k in self.test_kinds]
        for kind in ('det_all', 'seg_all'):
            if kind in makers:
                out.append(self._make(kind, ctx, test=True))
        present = sorted(set(ctx['labels'].tolist()))
        if 'det_class' in makers:
            for c in present:
                out.append(self._make('det_class', ctx, test=True, cls=c))
        if 'seg_class' in makers:
            for c in self._present(ctx, seg=True):
                out.append(self._make('seg_class', ctx, test=True, cls=c))
        if 'count' in makers and present:
            out.append(self._make('count', ctx, test=True, cls=present[0]))
        return out

    # ------------------------------------------------------------------
    def _pick(self, kind: str, test: bool, **fmt) -> str:
        options = TEMPLATES[kind]
        t = options[0] if test else options[np.random.randint(len(options))]
        return t.format(**fmt)

    def _names(self, c: int) -> dict:
        name = self.codec.classes[c]
        return dict(cls=name, plural=self.plurals[name])

    def _seg_label(self, c: int) -> int:
        return self.codec.seg_classes.index(self.codec.classes[c])

    def _present(self, ctx: dict, seg: bool = False) -> List[int]:
        """Detection class indices present in the boxes, or with ``seg``
        in the map (seg-only data has no boxes)."""
        if not seg:
            return sorted(set(ctx['labels'].tolist()))
        index = {n: i for i, n in enumerate(self.codec.classes)}
        names = {self.codec.seg_classes[i] for i, _ in ctx['seg'] or []}
        return sorted(index[n] for n in names if n in index)

    def _random_class(self, ctx: dict, test: bool, seg: bool = False
                      ) -> int:
        present = self._present(ctx, seg)
        # mostly present classes, sometimes absent ones (empty answers)
        if present and (test or np.random.rand() < 0.8):
            return present[0] if test else int(np.random.choice(present))
        return int(np.random.randint(len(self.codec.classes)))

    def _make(self, kind: str, ctx: dict, test: bool,
              cls: Optional[int] = None) -> Optional[dict]:
        codec = self.codec
        det_sel = seg_sel = None
        text = ''
        if kind in ('det_all', 'seg_all'):
            question = self._pick(kind, test)
            if kind == 'det_all':
                det_sel = list(range(len(codec.classes)))
            else:
                seg_sel = [i for i in range(len(codec.seg_classes))
                           if i != codec.background_index]
        elif kind in ('det_class', 'count'):
            c = self._random_class(ctx, test) if cls is None else cls
            question = self._pick(kind, test, **self._names(c))
            det_sel = [c]
        elif kind == 'seg_class':
            c = self._random_class(ctx, test, seg=True) if cls is None \
                else cls
            question = self._pick(kind, test, **self._names(c))
            seg_sel = [self._seg_label(c)]
        elif kind == 'compound':
            a = self._random_class(ctx, test)
            b = self._random_class(ctx, test, seg=True)
            names = self._names(b)
            question = self._pick(
                kind, test, plural2=names['plural'], **self._names(a))
            det_sel, seg_sel = [a], [self._seg_label(b)]
        else:  # where
            labels = ctx['labels']
            c = int(labels[0]) if test else int(np.random.choice(labels))
            same = np.flatnonzero(labels == c)
            k = min(len(same), len(ORDINALS))
            rank = 0 if test else int(np.random.randint(k))
            centres = ctx['boxes'][same, 0] + ctx['boxes'][same, 2]
            target = int(same[np.argsort(centres, kind='stable')[rank]])
            question = self._pick(
                kind, test, ordinal=ORDINALS[rank], **self._names(c))
            block = codec.det_block([ctx['det'][target]])
            return dict(kind=kind, question=question,
                        answer=codec.encode_response('', [block]),
                        det=[c], seg=None, context=codec.det_block(ctx['det']),
                        gt='')
        blocks, context, count = [], [], None
        if det_sel is not None:
            det, answerable = ctx['det'], None  # None: every item
            if kind in ('det_all', 'det_class', 'compound') and \
                    ctx.get('noisy_det') is not None:
                det = ctx['noisy_det']
                if self.context_noise['answer'] == 'annotated':
                    answerable = ctx['noisy_annotated']
            items = [i for k, i in enumerate(det) if i[0] in det_sel and (
                answerable is None or answerable[k])]
            items = order_items(items, self.answer_order)
            blocks.append(codec.det_block(items))
            context.append(codec.det_block(det))
            count = len(items)
        if seg_sel is not None:
            items = [i for i in ctx['seg'] if i[0] in seg_sel]
            blocks.append(codec.seg_block(items))
            context.append(codec.seg_block(ctx['seg']))
            count = len(items) if count is None else None
        text = '' if count is None or kind not in self.count_kinds else \
            str(count)
        return dict(kind=kind, question=question,
                    answer=codec.encode_response(text, blocks), det=det_sel,
                    seg=seg_sel, context=' '.join(context), gt=text)

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(kinds={self.kinds}, '
                f'num_per_image={self.num_per_image}, coords={self.coords!r})')


def order_items(items: list, order: str) -> list:
    """``(label, text)`` items, in context order, in an answer's ``order``
    (one of :data:`ANSWER_ORDERS`, see ``GenerateTextInstructions``); the
    sorts are stable, so each class keeps its context order."""
    if order == 'class':
        return sorted(items, key=lambda i: i[0])
    if order == 'confidence':
        first: Dict[int, int] = {}
        for k, item in enumerate(items):
            first.setdefault(item[0], k)
        return sorted(items, key=lambda i: first[i[0]])
    return list(items)
