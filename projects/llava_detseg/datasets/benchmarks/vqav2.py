"""VQAv2, TextVQA and VizWiz: ten annotators' answers per question."""
import os.path as osp
from typing import List, Optional

from llava_detseg.registry import DATASETS
from ..errors import DataError
from ..json_files import read_json
from .base import SHORT_ANSWER, VQABenchmarkDataset, answer_strings


def _list_field(data, key: str, file: str) -> list:
    """``data[key]``, a list, or a :class:`DataError` naming the file."""
    if not isinstance(data, dict) or not isinstance(data.get(key), list):
        raise DataError(f'{file}: expected a JSON object with a "{key}" '
                        'list')
    return data[key]


@DATASETS.register_module()
class VQAv2Dataset(VQABenchmarkDataset):
    """VQAv2 in its published form: a questions JSON
    (``v2_OpenEnded_mscoco_val2014_questions.json``: ``{"questions":
    [{"question_id", "image_id", "question"}]}``) and an annotations JSON
    (``v2_mscoco_val2014_annotations.json``: ``{"annotations":
    [{"question_id", "image_id", "answers": [{"answer", ...}] * 10,
    "answer_type"}]}``), images named ``COCO_val2014_{image_id:012d}.jpg``.
    Scored by ``VQAMetric`` (the official accuracy).

    Args:
        ann_file (str): The questions JSON, relative to ``data_root``.
        answer_file (str): The annotations JSON, relative to ``data_root``
            (a question without an annotation is an error: test-dev
            answers are not public, score those on the evaluation server).
        img_name (str): Format of an image's file name from its
            ``image_id``.
        **kwargs: :class:`VQABenchmarkDataset` arguments.
    """

    NAME = 'vqav2'

    def __init__(self,
                 *args,
                 answer_file: str = '',
                 img_name: str = 'COCO_val2014_{:012d}.jpg',
                 **kwargs) -> None:
        self.answer_file = answer_file
        self.img_name = img_name
        super().__init__(*args, **kwargs)

    def load_questions(self) -> List[dict]:
        qfile = self.ann_file
        afile = osp.join(self.data_root, self.answer_file)
        questions = _list_field(read_json(qfile, 'question file'),
                                'questions', qfile)
        annotations = _list_field(read_json(afile, 'annotation file'),
                                  'annotations', afile)
        by_qid = {}
        for k, ann in enumerate(annotations):
            if not isinstance(ann, dict) or 'question_id' not in ann:
                self.skip_or_raise(afile, f'#{k}', 'question_id',
                                   'annotation without a question_id')
                continue
            by_qid[ann['question_id']] = ann
        out = []
        for k, q in enumerate(questions):
            qid = q.get('question_id', f'#{k}') if isinstance(q, dict) \
                else f'#{k}'
            rec = self._record(qfile, afile, qid, q, by_qid.pop(qid, None))
            if rec is not None:
                out.append(rec)
        for qid in by_qid:  # mismatched ids: answers to unasked questions
            self.skip_or_raise(afile, qid, 'question_id',
                               f'annotated but not in {qfile}')
        return out

    def _record(self, qfile: str, afile: str, qid, q,
                ann: Optional[dict]) -> Optional[dict]:
        if not isinstance(q, dict):
            self.skip_or_raise(qfile, qid, 'question', 'not a JSON object')
            return None
        for key in ('question', 'image_id'):
            if key not in q:
                self.skip_or_raise(qfile, qid, key, 'missing')
                return None
        if not isinstance(q['question'], str):
            self.skip_or_raise(qfile, qid, 'question', 'not a string')
            return None
        if ann is None:
            self.skip_or_raise(afile, qid, 'answers',
                               f'no annotation for this question of {qfile}')
            return None
        if ann.get('image_id', q['image_id']) != q['image_id']:
            self.skip_or_raise(afile, qid, 'image_id',
                               f'{ann.get("image_id")!r} here, '
                               f'{q["image_id"]!r} in {qfile}')
            return None
        answers = answer_strings(afile, qid, ann.get('answers'), self)
        if answers is None:
            return None
        try:
            image = self.img_name.format(q['image_id'])
        except (ValueError, TypeError) as e:
            self.skip_or_raise(qfile, qid, 'image_id', f'{e}')
            return None
        return dict(question_id=qid, image=image, question=q['question'],
                    answers=answers,
                    meta=dict(answer_type=ann.get('answer_type')))


@DATASETS.register_module()
class TextVQADataset(VQABenchmarkDataset):
    """TextVQA (``TextVQA_0.5.1_val.json``: ``{"data": [{"question_id",
    "image_id", "question", "answers": [str] * 10}]}``, images
    ``{image_id}.jpg`` in ``train_images/``), scored by ``VQAMetric``.
    LLaVA-1.5 adds OCR tokens to the prompt in one of its variants; this
    one asks the question alone."""

    NAME = 'textvqa'

    def load_questions(self) -> List[dict]:
        file = self.ann_file
        out = []
        for k, q in enumerate(_list_field(read_json(file, 'question file'),
                                          'data', file)):
            qid = q.get('question_id', f'#{k}') if isinstance(q, dict) \
                else f'#{k}'
            if not isinstance(q, dict) or not isinstance(
                    q.get('question'), str) or 'image_id' not in q:
                self.skip_or_raise(file, qid, 'question',
                                   'needs "question" (str) and "image_id"')
                continue
            answers = answer_strings(file, qid, q.get('answers'), self)
            if answers is not None:
                out.append(dict(question_id=qid, image=f'{q["image_id"]}.jpg',
                                question=q['question'], answers=answers))
        return out


@DATASETS.register_module()
class VizWizDataset(VQABenchmarkDataset):
    """VizWiz-VQA (``val.json``: ``[{"image", "question", "answers":
    [{"answer", "answer_confidence"}] * 10, "answer_type"}]``), scored by
    ``VQAMetric`` (VizWiz uses VQAv2's accuracy); the image name is the
    question id. Prompted as LLaVA-1.5 prompts it, with the instruction to
    answer "Unanswerable"."""

    NAME = 'vizwiz'
    PROMPT = ("When the provided information is insufficient, respond with "
              f"'Unanswerable'.\n{SHORT_ANSWER}")

    def load_questions(self) -> List[dict]:
        file = self.ann_file
        entries = read_json(file, 'question file')
        if not isinstance(entries, list):
            raise DataError(f'{file}: expected a JSON list of questions')
        out = []
        for k, q in enumerate(entries):
            qid = q.get('image', f'#{k}') if isinstance(q, dict) else f'#{k}'
            if not isinstance(q, dict) or not isinstance(
                    q.get('question'), str) or not isinstance(
                        q.get('image'), str):
                self.skip_or_raise(file, qid, 'question',
                                   'needs "image" and "question" strings')
                continue
            answers = answer_strings(file, qid, q.get('answers'), self)
            if answers is not None:
                out.append(dict(question_id=qid, image=q['image'],
                                question=q['question'], answers=answers,
                                meta=dict(answer_type=q.get('answer_type'))))
        return out
