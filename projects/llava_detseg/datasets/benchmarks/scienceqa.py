"""ScienceQA-IMG: multiple choice, the questions that have an image."""
import os.path as osp
import string
from typing import List

from llava_detseg.registry import DATASETS
from ..errors import DataError
from ..json_files import read_json
from .base import VQABenchmarkDataset

LETTERS = string.ascii_uppercase


@DATASETS.register_module()
class ScienceQADataset(VQABenchmarkDataset):
    """ScienceQA's image subset in its published form: ``problems.json``
    (``{pid: {"question", "choices", "answer" (index), "hint", "image",
    "subject", "split"}}``), ``pid_splits.json`` (``{"test": [pid, ...]}``)
    and images ``{split}/{pid}/image.png``. Problems without an image are
    left out (ScienceQA-IMG, as LLaVA-1.5 reports it). The prompt is
    LLaVA-1.5's: ``Context: {hint}`` when there is one, the question, the
    options as ``A. ...`` lines, then "Answer with the option's letter
    from the given choices directly."; ``ScienceQAMetric`` scores the
    letter.

    Args:
        ann_file (str): ``problems.json``, relative to ``data_root``.
        split_file (str): ``pid_splits.json``, relative to ``data_root``.
        split (str): Which split. Defaults to ``'test'``.
        **kwargs: :class:`VQABenchmarkDataset` arguments (``data_prefix``:
            the folder holding ``test/``).
    """

    NAME = 'scienceqa'
    PROMPT = "Answer with the option's letter from the given choices directly."

    def __init__(self, *args, split_file: str = 'pid_splits.json',
                 split: str = 'test', **kwargs) -> None:
        self.split_file = split_file
        self.split = split
        super().__init__(*args, **kwargs)

    def load_questions(self) -> List[dict]:
        file = self.ann_file
        problems = read_json(file, 'problems file')
        sfile = osp.join(self.data_root, self.split_file)
        splits = read_json(sfile, 'split file')
        if not isinstance(problems, dict):
            raise DataError(f'{file}: expected a JSON object of '
                            '{pid: problem}')
        if not isinstance(splits, dict) or not isinstance(
                splits.get(self.split), list):
            raise DataError(f'{sfile}: no "{self.split}" list of pids')
        out = []
        for pid in splits[self.split]:
            prob = problems.get(str(pid))
            if prob is None:
                self.skip_or_raise(sfile, pid, self.split,
                                   f'pid not in {file}')
                continue
            if not isinstance(prob, dict) or not prob.get('image'):
                continue  # text-only problem: not in the IMG subset
            rec = self._record(file, str(pid), prob)
            if rec is not None:
                out.append(rec)
        return out

    def _record(self, file: str, pid: str, prob: dict):
        choices, answer = prob.get('choices'), prob.get('answer')
        if not isinstance(prob.get('question'), str):
            return self.skip_or_raise(file, pid, 'question', 'not a string')
        if not isinstance(choices, list) or not 2 <= len(choices) <= len(
                LETTERS) or not all(isinstance(c, str) for c in choices):
            return self.skip_or_raise(
                file, pid, 'choices',
                f'expected 2 to 26 strings, got {choices!r}')
        if not isinstance(answer, int) or not 0 <= answer < len(choices):
            return self.skip_or_raise(
                file, pid, 'answer',
                f'choice index {answer!r} out of range for '
                f'{len(choices)} choices')
        split = prob.get('split', self.split)
        return dict(
            question_id=pid,
            image=osp.join(split, pid, prob['image']),
            question=prob['question'],
            answers=LETTERS[answer],
            meta=dict(hint=prob.get('hint') or '', choices=choices,
                      subject=prob.get('subject')))

    def format_question(self, record: dict) -> str:
        meta = record['meta']
        parts = ['<image>']
        if meta['hint']:
            parts.append(f'Context: {meta["hint"]}')
        parts.append(record['question'])
        parts += [f'{LETTERS[i]}. {c}' for i, c in enumerate(meta['choices'])]
        return '\n'.join(parts + [self.prompt])
