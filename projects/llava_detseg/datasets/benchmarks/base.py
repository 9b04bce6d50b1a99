"""Shared loading of VQA benchmarks: questions grouped by image."""
import os.path as osp
from collections import OrderedDict
from typing import Any, Dict, List, Optional

from mmengine.dataset import BaseDataset
from mmengine.logging import print_log

from ..errors import DataError, ErrorPolicy, data_error

# LLaVA-1.5's short-answer instruction (llava/eval, scripts/v1_5/eval)
SHORT_ANSWER = 'Answer the question using a single word or phrase.'


class VQABenchmarkDataset(BaseDataset):
    """Base of the benchmarks: a question list, validated and grouped by
    image, each question prompted as LLaVA-1.5 prompts it.

    Subclasses read their published format in :meth:`load_questions` and
    return one record per question: ``question_id``, ``image`` (a path
    relative to ``data_prefix['img']``), ``question`` (the text without the
    image token and the instruction), ``answers`` (a str or a list of the
    annotators' answers) and ``meta`` (fields the benchmark's metric reads).
    Each sample is one image with its questions (``vqa_questions``; one
    backbone pass for all of them) and its ``benchmark`` name, which the
    evaluator's ``TaskMetric(benchmark=...)`` matches.

    Args:
        data_root (str): The benchmark's folder.
        data_prefix (dict): ``img``: folder the image names are relative to.
        prompt (str, optional): Instruction put after the question (default
            the benchmark's LLaVA-1.5 one, :attr:`PROMPT`).
        benchmark (str, optional): Name of the samples (default
            :attr:`NAME`); two copies of one benchmark need two names.
        on_error (str): ``'raise'`` (default) or ``'skip'`` a bad question
            or a missing image, counted in one log line.
        check_files (bool): Check at start that every image exists.
        **kwargs: ``BaseDataset`` arguments (``ann_file``, ``pipeline``,
            ``indices``...).
    """

    METAINFO = dict(classes=(), seg_classes=None, palette=None)
    tasks = ('vqa', )
    NAME = 'benchmark'
    PROMPT: Optional[str] = SHORT_ANSWER

    def __init__(self,
                 *args,
                 data_prefix: dict = dict(img=''),
                 prompt: Optional[str] = None,
                 benchmark: Optional[str] = None,
                 on_error: str = 'raise',
                 check_files: bool = True,
                 test_mode: bool = True,
                 **kwargs) -> None:
        self.prompt = self.PROMPT if prompt is None else prompt
        self.benchmark = benchmark or self.NAME
        self.policy = ErrorPolicy(on_error, type(self).__name__)
        self.check_files = check_files
        super().__init__(*args, data_prefix=data_prefix, test_mode=test_mode,
                         **kwargs)

    # ------------------------------------------------------------------
    def load_questions(self) -> List[dict]:
        """The benchmark's questions (see the class docstring)."""
        raise NotImplementedError

    def skip_or_raise(self, file: str, qid: Any, field: str,
                      problem: str) -> None:
        """A bad question: raise, or count a skip (``on_error``)."""
        self.policy(data_error(file, f'question {qid!r}', field, problem),
                    'question')

    def format_question(self, record: dict) -> str:
        """``<image>``, the question, then the instruction (LLaVA-1.5)."""
        parts = ['<image>', record['question']]
        return '\n'.join(parts + ([self.prompt] if self.prompt else []))

    def load_data_list(self) -> List[dict]:
        """Validate the questions and group them by image."""
        records = self.load_questions()
        img_root = self.data_prefix.get('img', '')
        by_image: 'OrderedDict[str, List[dict]]' = OrderedDict()
        seen = set()
        missing: Dict[str, bool] = {}
        source = self.ann_file or self.data_root
        for rec in records:
            qid = rec['question_id']
            if qid in seen:
                self.skip_or_raise(source, qid, 'question_id',
                                   'the id is used by another question')
                continue
            seen.add(qid)
            path = osp.join(img_root, rec['image'])
            if self.check_files:
                if path not in missing:
                    missing[path] = not osp.isfile(path)
                if missing[path]:
                    self.skip_or_raise(source, qid, 'image',
                                       f'image file {path} does not exist')
                    continue
            by_image.setdefault(path, []).append(
                dict(question_id=qid, question=self.format_question(rec),
                     answers=rec['answers'], meta=rec.get('meta') or {}))
        data_list = [
            dict(img_path=path, img_id=osp.splitext(osp.basename(path))[0],
                 tasks=['vqa'], benchmark=self.benchmark, vqa_questions=qs)
            for path, qs in by_image.items()
        ]
        if self.policy.skipped:
            print_log(f'{type(self).__name__} ({source}): '
                      f'{sum(len(d["vqa_questions"]) for d in data_list)} '
                      f'questions on {len(data_list)} images; skipped '
                      f'{self.policy.summary()}', logger='current',
                      level=30)
        if not data_list:
            raise DataError(f'{source}: no usable question')
        return data_list

    def get_cat_ids(self, idx: int) -> List[int]:
        """No categories (for wrappers that ask)."""
        return []


def answer_strings(file: str, qid: Any, answers: Any, owner) -> Optional[list]:
    """``answers`` as a list of str (VQAv2 / VizWiz ``[{"answer": ...}]``
    or plain strings), or None after ``owner.skip_or_raise``."""
    if not isinstance(answers, list) or not answers:
        owner.skip_or_raise(file, qid, 'answers',
                            f'expected a non-empty list, got {answers!r}')
        return None
    out = []
    for ans in answers:
        text = ans.get('answer') if isinstance(ans, dict) else ans
        if not isinstance(text, str):
            owner.skip_or_raise(file, qid, 'answers',
                                f'an answer is not a string: {ans!r}')
            return None
        out.append(text)
    return out
