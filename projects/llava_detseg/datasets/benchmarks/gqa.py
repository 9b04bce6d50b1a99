"""GQA balanced test-dev questions."""
from typing import List

from llava_detseg.registry import DATASETS
from ..errors import DataError
from ..json_files import read_json
from .base import VQABenchmarkDataset


@DATASETS.register_module()
class GQADataset(VQABenchmarkDataset):
    """GQA (``testdev_balanced_questions.json``: ``{question_id:
    {"imageId", "question", "answer", ...}}``, images ``{imageId}.jpg``),
    scored by exact match after the VQA normalisation (``VQAMetric`` with
    one answer per question, as mmpretrain's ``GQAAcc`` does)."""

    NAME = 'gqa'

    def load_questions(self) -> List[dict]:
        file = self.ann_file
        data = read_json(file, 'question file')
        if not isinstance(data, dict):
            raise DataError(f'{file}: expected a JSON object of '
                            '{question_id: question}')
        out = []
        for qid, q in data.items():
            if not isinstance(q, dict):
                self.skip_or_raise(file, qid, 'question', 'not an object')
                continue
            bad = [k for k in ('imageId', 'question', 'answer')
                   if not isinstance(q.get(k), str)]
            if bad:
                self.skip_or_raise(file, qid, bad[0],
                                   'missing or not a string')
                continue
            out.append(dict(question_id=qid, image=f'{q["imageId"]}.jpg',
                            question=q['question'], answers=q['answer']))
        return out
