"""Constrained decoding of ``<DET>`` / ``<SEG>`` answers.

Greedy decoding of a small or briefly trained language model drifts out of
the format: a loc token repeated forever, a block never closed, a box with
three coordinates. :class:`DetSegConstraint` says which tokens keep an
answer inside the text format of ``docs/text_format.md``, as the
``prefix_allowed_tokens_fn`` of ``transformers``' ``generate``
(:meth:`DetSegConstraint.build`) or as the :class:`DetSegLogitsProcessor`
that the language branch decodes with (:meth:`DetSegConstraint.processor`);
the model still chooses, among the allowed tokens, what to write and when to
stop. The processor can also copy each class of a grounded context as one
run and let the model's class probabilities decide where a block ends
(``text_cfg.switch_prob``).

The parts: ``vocab.py`` (the format's token ids, answer-text helpers),
``row_parser.py`` (the grammar / context state machine of one answer row),
``constraint.py`` (the token tables and the ``prefix_allowed_tokens_fn``),
``processor.py`` (the logits processor with class runs).

Three levels (``TextTaskIO(constrain=...)``):

* ``'grammar'``: blocks follow the format: class names from the codec,
  exactly four locs per box with ``x2 >= x1`` and ``y2 >= y1``, polygons of
  3 to ``max_vertices`` vertices, at most ``max_boxes`` boxes, every block
  closed and each block kind written at most once. Locs are free, so the
  model still places every box itself (generative mode).
* ``'context'``: as ``'grammar'``, but every item of a block is copied from
  the same block kind in the prompt's context, and the items of one class
  are copied in context order (score order for the heads' boxes) without
  skipping: writing a class name selects that class's next context item
  (pointer-style copying, grounded mode). The language model decides which
  classes answer the instruction, in which order, and when the block ends;
  it can no longer corrupt a copied coordinate or drop a box in the middle
  of its class. COCO-style AP ranks per class, so this order loses nothing.
* ``'context_any'``: any context item, each at most once, in any order (for
  instructions that pick one instance, "the second square from the left";
  the model then chooses the instance through its loc tokens).

Outside the blocks the free text (``Answer: {text}``) is unconstrained,
except that locs, ``<poly>`` and closing tags cannot appear there. A block
is only opened while the remaining token budget can still close it, and no
item is started that the budget cannot finish. At the context levels
the answer cannot end before it has written each block kind of the context
(the context holds the kinds the instruction asked for), and a block leaves
the budget the blocks still due after it need.
"""
from .constraint import CONTEXT_LEVELS, LEVELS, DetSegConstraint
from .processor import DetSegLogitsProcessor, check_switch_prob
from .row_parser import RowParser
from .vocab import FormatVocab, context_items, terminate_items, tidy_answer

__all__ = [
    'LEVELS', 'CONTEXT_LEVELS', 'DetSegConstraint', 'DetSegLogitsProcessor',
    'RowParser', 'FormatVocab', 'check_switch_prob', 'context_items',
    'terminate_items', 'tidy_answer'
]
