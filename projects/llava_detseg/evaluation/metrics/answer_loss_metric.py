"""Answer-token loss and perplexity of held-out free-form conversations."""
import logging
import math
from typing import Any, List, Optional, Sequence

from mmengine.evaluator import BaseMetric
from mmengine.logging import print_log

from llava_detseg.registry import METRICS


@METRICS.register_module()
class AnswerLossMetric(BaseMetric):
    """Mean negative log-likelihood of the reference answers' tokens, and
    its perplexity, over the held-out conversations.

    LLaVA-Instruct's answers are paragraphs: exact match reads about 0 for
    any model, so it cannot tell how much conversation ability a fine-tune
    kept. Teacher-forced answer-token loss can (lower is better): the model
    (``responder.score_conversations``) sums each sample's answer-token NLL
    (``answer_nll``) and counts the tokens (``answer_tokens``); this metric
    pools them, so long answers weigh by their length, as in training.

    Reports ``loss`` (nats per answer token), ``perplexity``
    (``exp(loss)``), ``num_tokens`` and ``num_samples``; no key and a
    warning when no sample carried conversations.

    Args:
        collect_device (str): As for ``BaseMetric``.
        prefix (str, optional): Default ``'conv'``.
    """

    default_prefix: Optional[str] = 'conv'

    def process(self, data_batch: Any, data_samples: Sequence[dict]) -> None:
        for sample in data_samples:
            tokens = int(sample.get('answer_tokens') or 0)
            self.results.append(
                (float(sample.get('answer_nll') or 0.0), tokens))

    def compute_metrics(self, results: List[tuple]) -> dict:
        tokens = sum(n for _, n in results)
        if tokens == 0:
            print_log('AnswerLossMetric: no sample carried scored '
                      'conversations; no answer loss', logger='current',
                      level=logging.WARNING)
            return {}
        loss = sum(nll for nll, _ in results) / tokens
        return dict(loss=loss, perplexity=math.exp(min(loss, 700.0)),
                    num_tokens=tokens,
                    num_samples=sum(1 for _, n in results if n))
