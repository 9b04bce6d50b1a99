"""VQA accuracy metric (VQAv2 protocol)."""
import json
import logging
import os.path as osp
from typing import Any, Dict, List, Optional, Sequence, Union

from mmengine.evaluator import BaseMetric
from mmengine.logging import print_log
from mmengine.utils import mkdir_or_exist

from llava_detseg.registry import METRICS
from ..functional import normalize_answer, vqa_accuracy

GtAnswer = Union[str, Sequence[str]]

# Reporting order of the per-type accuracies (VizWiz adds 'unanswerable';
# any other type a benchmark annotates follows).
ANSWER_TYPES = ('yes/no', 'number', 'other', 'unanswerable')


def answer_type(gt: GtAnswer) -> str:
    """VQAv2-style answer type of a question, from its first gt answer.

    Args:
        gt (str | Sequence[str]): The question's ground-truth answer(s).

    Returns:
        str: ``'yes/no'``, ``'number'`` or ``'other'``.
    """
    first = normalize_answer(gt if isinstance(gt, str) else gt[0])
    if first in ('yes', 'no'):
        return 'yes/no'
    if first.isdigit():
        return 'number'
    return 'other'


@METRICS.register_module()
class VQAMetric(BaseMetric):
    """VQA accuracy with the official VQAv2 answer normalisation.

    Every data sample may carry several questions. Samples without
    ``pred_answers`` belong to other tasks (detection, segmentation) and are
    ignored. Accuracies are fractions in ``[0, 1]``.

    Args:
        collect_device (str): Device used to collect results across ranks,
            ``'cpu'`` or ``'gpu'``. Defaults to ``'cpu'``.
        prefix (str, optional): Prefix of the metric names; ``None`` uses
            :attr:`default_prefix` (``'vqa'``). Defaults to None.
        answer_types (bool): Also report the accuracy per answer type
            (``yes/no``, ``number``, ``other``). Defaults to True.
        outfile_prefix (str, optional): If set, the per-question results
            are dumped to ``f'{outfile_prefix}.vqa.json'`` as a list of
            ``{question_id, question, pred, gt, acc}``. Defaults to None.
    """

    default_prefix: Optional[str] = 'vqa'

    def __init__(self,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None,
                 answer_types: bool = True,
                 outfile_prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.answer_types = answer_types
        self.outfile_prefix = outfile_prefix

    def process(self, data_batch: Any, data_samples: Sequence[dict]) -> None:
        """Score the questions of a batch of data samples.

        The accuracy is computed here rather than in :meth:`compute_metrics`
        so that only small records travel between ranks.

        Args:
            data_batch (Any): The batch from the dataloader (unused).
            data_samples (Sequence[dict]): Outputs of the model, as dicts
                with ``pred_answers`` (list of str), ``gt_answers`` (list of
                str or list of str) and optionally ``questions``,
                ``question_ids`` and ``img_path``.
        """
        for sample in data_samples:
            if not isinstance(sample, dict) and hasattr(sample, 'to_dict'):
                sample = sample.to_dict()
            # Exactly one entry per data sample, even an empty one:
            # ``collect_results`` truncates to the dataset size to drop the
            # samples a distributed sampler padded, counting entries.
            self.results.append(self._score_sample(sample))

    def _score_sample(self, sample: dict) -> List[dict]:
        """Per-question records of one data sample."""
        preds = sample.get('pred_answers')
        if preds is None:
            return []
        img_path = sample.get('img_path', '<unknown image>')
        gts = sample.get('gt_answers')
        if gts is None:
            raise ValueError(f'Sample {img_path} has pred_answers but no '
                             'gt_answers')
        preds = [preds] if isinstance(preds, str) else list(preds)
        gts = [gts] if isinstance(gts, str) else list(gts)
        if len(preds) != len(gts):
            raise ValueError(
                f'Sample {img_path} has {len(preds)} pred_answers but '
                f'{len(gts)} gt_answers')
        questions = self._optional_list(sample, 'questions', len(preds),
                                        img_path)
        question_ids = self._optional_list(sample, 'question_ids',
                                           len(preds), img_path)
        metas = self._optional_list(sample, 'question_meta', len(preds),
                                    img_path)
        records = []
        for pred, gt, question, qid, meta in zip(preds, gts, questions,
                                                 question_ids, metas):
            if not isinstance(gt, str):
                gt = list(gt)  # tuples and the like dump to JSON as lists
            # a benchmark's own answer type (VQAv2 annotates it) wins
            kind = (meta or {}).get('answer_type') or answer_type(gt)
            records.append(
                dict(
                    question_id=qid,
                    question=question,
                    pred=pred,
                    gt=gt,
                    acc=vqa_accuracy(pred, gt),
                    answer_type=kind))
        return records

    @staticmethod
    def _optional_list(sample: dict, key: str, num: int,
                       img_path: str) -> list:
        """``sample[key]`` checked against ``num``; ``None`` s if absent."""
        values = sample.get(key)
        if values is None:
            return [None] * num
        if isinstance(values, str):
            values = [values]
        values = list(values)
        if len(values) != num:
            raise ValueError(f'Sample {img_path} has {num} pred_answers but '
                             f'{len(values)} {key}')
        return values

    def compute_metrics(self, results: List[List[dict]]) -> Dict[str, float]:
        """Average the per-question accuracies.

        Args:
            results (list[list[dict]]): One list of question records per
                data sample, from all ranks.

        Returns:
            dict: ``accuracy``, ``accuracy_<type>`` for the answer types
            present (if ``answer_types``) and ``num_questions``; empty (and
            a warning) when no question was scored.
        """
        records = [rec for per_sample in results for rec in per_sample]
        if self.outfile_prefix is not None:
            self._dump(records)
        if not records:
            # nothing scored is not a model that scored 0: no accuracy key
            print_log(
                f'{self.__class__.__name__} ({self.prefix}): no sample '
                'carried pred_answers; no accuracy reported',
                logger='current',
                level=logging.WARNING)
            return {}

        metrics: Dict[str, float] = {
            'accuracy': sum(r['acc'] for r in records) / len(records)
        }
        if self.answer_types:
            present = list(dict.fromkeys(r['answer_type'] for r in records))
            for ans_type in [t for t in ANSWER_TYPES if t in present] + [
                    t for t in present if t not in ANSWER_TYPES]:
                accs = [
                    r['acc'] for r in records if r['answer_type'] == ans_type
                ]
                if accs:
                    metrics[f'accuracy_{ans_type}'] = sum(accs) / len(accs)
        metrics['num_questions'] = len(records)
        return metrics

    def _dump(self, records: List[dict]) -> None:
        """Write the per-question results to ``{outfile_prefix}.vqa.json``."""
        path = f'{self.outfile_prefix}.vqa.json'
        mkdir_or_exist(osp.dirname(osp.abspath(path)))
        keys = ('question_id', 'question', 'pred', 'gt', 'acc')
        with open(path, 'w', encoding='utf-8') as f:
            json.dump([{k: r[k] for k in keys} for r in records],
                      f,
                      ensure_ascii=False,
                      indent=2)
        print_log(
            f'VQA results of {len(records)} questions written to {path}',
            logger='current')
