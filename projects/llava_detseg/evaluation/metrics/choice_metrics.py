"""Multiple-choice and yes/no benchmark metrics: ScienceQA, POPE, MME."""
import logging
import re
from typing import Any, Dict, List, Optional, Sequence

from mmengine.evaluator import BaseMetric
from mmengine.logging import print_log

from llava_detseg.registry import METRICS


class _QuestionMetric(BaseMetric):
    """One record per question of the samples that carry answers.

    Samples without ``pred_answers`` (other tasks) give an empty entry, so
    the results of all ranks stay aligned. :meth:`score` makes a
    question's record; :meth:`summarise` the metrics, only called with at
    least one record (none: a warning and no keys, never a 0).
    """

    def process(self, data_batch: Any, data_samples: Sequence[dict]) -> None:
        for sample in data_samples:
            preds = sample.get('pred_answers')
            if preds is None:
                self.results.append([])
                continue
            n = len(preds)
            gts = sample.get('gt_answers') or [None] * n
            metas = sample.get('question_meta') or [{}] * n
            qids = sample.get('question_ids') or [None] * n
            self.results.append([
                self.score(p, g, m or {}, q)
                for p, g, m, q in zip(preds, gts, metas, qids)
            ])

    def score(self, pred: str, gt: Any, meta: dict, qid: Any) -> dict:
        raise NotImplementedError

    def summarise(self, records: List[dict]) -> Dict[str, float]:
        raise NotImplementedError

    def compute_metrics(self, results: List[List[dict]]) -> dict:
        records = [r for per in results for r in per]
        if not records:
            print_log(f'{type(self).__name__} ({self.prefix}): no question '
                      'was scored; no metrics', logger='current',
                      level=logging.WARNING)
            return {}
        return self.summarise(records)


_SQA_ANSWER_IS = re.compile(r'The answer is ([A-Z])\.')


def scienceqa_letter(pred: str, num_choices: int) -> Optional[str]:
    """The option letter of an answer, as LLaVA's ``eval_science_qa.py``
    reads it: the answer itself (``"B"``), a leading ``"B. ..."``, or
    ``"The answer is B."``; None when none of them (or out of range)."""
    letters = [chr(ord('A') + i) for i in range(num_choices)]
    text = pred.strip()
    if text in letters:
        return text
    if len(text) >= 3 and text[0] in letters and text[1:3] == '. ':
        return text[0]
    found = _SQA_ANSWER_IS.findall(text)
    if len(found) == 1 and found[0] in letters:
        return found[0]
    return None


@METRICS.register_module()
class ScienceQAMetric(_QuestionMetric):
    """ScienceQA-IMG accuracy by the option letter (LLaVA's
    ``eval_science_qa.py``).

    LLaVA replaces an unreadable answer by a random option; here it counts
    as wrong and ``parse_failure_rate`` reports how often it happened, so
    that the number does not depend on a seed. Reports ``accuracy``,
    ``accuracy_<subject>`` per subject, ``parse_failure_rate`` and
    ``num_questions``. mmpretrain's ``ScienceQAMetric`` does not import
    with this toolchain (TOOLCHAIN.md), hence this one.
    """

    default_prefix: Optional[str] = 'scienceqa'

    def score(self, pred: str, gt: Any, meta: dict, qid: Any) -> dict:
        letter = scienceqa_letter(pred, len(meta.get('choices') or 'ABCDE'))
        return dict(ok=letter == gt, failed=letter is None,
                    subject=meta.get('subject'))

    def summarise(self, records: List[dict]) -> Dict[str, float]:
        n = len(records)
        out = dict(accuracy=sum(r['ok'] for r in records) / n)
        for subject in sorted({r['subject'] for r in records
                               if r['subject']}):
            mine = [r['ok'] for r in records if r['subject'] == subject]
            out[f'accuracy_{subject.replace(" ", "_")}'] = sum(mine) / len(
                mine)
        out['parse_failure_rate'] = sum(r['failed'] for r in records) / n
        out['num_questions'] = n
        return out


def pope_yes_no(pred: str) -> str:
    """LLaVA's ``eval_pope.py``: the first sentence, commas dropped; "no"
    when it holds the word No / no / not, else "yes"."""
    text = pred.split('.')[0] if '.' in pred else pred
    words = text.replace(',', '').split(' ')
    return 'no' if {'No', 'not', 'no'} & set(words) else 'yes'


@METRICS.register_module()
class POPEMetric(_QuestionMetric):
    """POPE accuracy, precision, recall, F1 and yes-ratio per split
    (random / popular / adversarial), "yes" the positive class, as LLaVA's
    ``eval_pope.py`` computes them, and their means over the splits
    (``accuracy``, ``f1``: the numbers LLaVA-1.5 reports).

    A split where the model never says "yes" has no precision: it is
    reported as 0.0 with a warning (the model found no object there).
    """

    default_prefix: Optional[str] = 'pope'

    def score(self, pred: str, gt: Any, meta: dict, qid: Any) -> dict:
        return dict(pred=pope_yes_no(pred), gt=gt,
                    split=meta.get('split', 'all'))

    def summarise(self, records: List[dict]) -> Dict[str, float]:
        out: Dict[str, float] = {}
        splits = list(dict.fromkeys(r['split'] for r in records))
        for split in splits:
            mine = [r for r in records if r['split'] == split]
            tp = sum(r['pred'] == 'yes' and r['gt'] == 'yes' for r in mine)
            fp = sum(r['pred'] == 'yes' and r['gt'] == 'no' for r in mine)
            tn = sum(r['pred'] == 'no' and r['gt'] == 'no' for r in mine)
            fn = sum(r['pred'] == 'no' and r['gt'] == 'yes' for r in mine)
            if tp + fp == 0:
                print_log(f'POPEMetric: the model never answered "yes" on '
                          f'the {split} split; precision 0.0',
                          logger='current', level=logging.WARNING)
            precision = tp / (tp + fp) if tp + fp else 0.0
            recall = tp / (tp + fn) if tp + fn else 0.0
            f1 = (2 * precision * recall / (precision + recall)
                  if precision + recall else 0.0)
            out.update({
                f'{split}/accuracy': (tp + tn) / len(mine),
                f'{split}/precision': precision,
                f'{split}/recall': recall,
                f'{split}/f1': f1,
                f'{split}/yes_ratio': (tp + fp) / len(mine),
                f'{split}/num_questions': len(mine),
            })
        for key in ('accuracy', 'f1'):
            out[key] = sum(out[f'{s}/{key}'] for s in splits) / len(splits)
        return out


def mme_yes_no(pred: str) -> str:
    """MME's ``calculation.py``: "yes" / "no" when the answer is one, else
    by its first four characters; "other" when neither."""
    text = pred.strip().lower()
    if text in ('yes', 'no'):
        return text
    head = text[:4]
    if 'yes' in head:
        return 'yes'
    if 'no' in head:
        return 'no'
    return 'other'


@METRICS.register_module()
class MMEMetric(_QuestionMetric):
    """MME (its ``eval_tool/calculation.py``): per subtask ``acc`` (share of
    questions right) and ``acc_plus`` (share of images with both questions
    right), ``score = 100 * (acc + acc_plus)``; ``perception`` and
    ``cognition`` the sums of their subtasks' scores (full marks 2000 and
    800)."""

    default_prefix: Optional[str] = 'mme'

    def score(self, pred: str, gt: Any, meta: dict, qid: Any) -> dict:
        return dict(ok=mme_yes_no(pred) == gt, subtask=meta.get('subtask'),
                    image=meta.get('image'))

    def summarise(self, records: List[dict]) -> Dict[str, float]:
        from llava_detseg.datasets.benchmarks import (MME_COGNITION,
                                                      MME_PERCEPTION)
        out: Dict[str, float] = {}
        totals = dict(perception=0.0, cognition=0.0)
        for task in dict.fromkeys(r['subtask'] for r in records):
            mine = [r for r in records if r['subtask'] == task]
            by_image: Dict[Any, bool] = {}
            for r in mine:
                by_image[r['image']] = by_image.get(r['image'], True) and \
                    r['ok']
            acc = sum(r['ok'] for r in mine) / len(mine)
            acc_plus = sum(by_image.values()) / len(by_image)
            out[f'{task}/acc'] = acc
            out[f'{task}/acc_plus'] = acc_plus
            out[f'{task}/score'] = 100 * (acc + acc_plus)
            if task in MME_PERCEPTION:
                totals['perception'] += out[f'{task}/score']
            elif task in MME_COGNITION:
                totals['cognition'] += out[f'{task}/score']
        tasks = {r['subtask'] for r in records}
        if tasks & set(MME_PERCEPTION):
            out['perception'] = totals['perception']
        if tasks & set(MME_COGNITION):
            out['cognition'] = totals['cognition']
        out['num_questions'] = len(records)
        return out
