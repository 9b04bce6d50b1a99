"""MME: paired yes/no questions per image, 14 subtasks."""
import glob
import os.path as osp
from typing import List

from llava_detseg.registry import DATASETS
from ..errors import DataError
from .base import VQABenchmarkDataset

MME_PERCEPTION = ('existence', 'count', 'position', 'color', 'posters',
                  'celebrity', 'scene', 'landmark', 'artwork', 'OCR')
MME_COGNITION = ('commonsense_reasoning', 'numerical_calculation',
                 'text_translation', 'code_reasoning')
IMAGE_EXTS = ('.jpg', '.jpeg', '.png')


@DATASETS.register_module()
class MMEDataset(VQABenchmarkDataset):
    """MME in its release layout (``MME_Benchmark_release_version/``): one
    folder per subtask holding either ``images/`` and
    ``questions_answers_YN/`` or the images and their ``.txt`` side by
    side; each ``.txt`` has one ``question<TAB>Yes|No`` line per question
    (two per image). Scored by ``MMEMetric`` (acc, acc+ and score per
    subtask; perception and cognition sums). The questions already end with
    "Please answer yes or no."; LLaVA-1.5 adds its short-answer line.

    Args:
        subtasks (tuple[str], optional): Which folders (default the 14 that
            are present; at least one must be).
        **kwargs: :class:`VQABenchmarkDataset` arguments (``data_root``: the
            release folder; ``data_prefix['img']`` is not used).
    """

    NAME = 'mme'

    def __init__(self, *args, subtasks=None, **kwargs) -> None:
        self.subtasks = tuple(subtasks) if subtasks is not None else None
        super().__init__(*args, **kwargs)

    def load_questions(self) -> List[dict]:
        root = self.data_root
        names = self.subtasks or tuple(
            t for t in MME_PERCEPTION + MME_COGNITION
            if osp.isdir(osp.join(root, t)))
        if not names:
            raise DataError(f'{root}: no MME subtask folder (expected some '
                            f'of {MME_PERCEPTION + MME_COGNITION})')
        out = []
        for task in names:
            folder = osp.join(root, task)
            if not osp.isdir(folder):
                raise DataError(f'{folder}: MME subtask folder not found')
            qa_dir = osp.join(folder, 'questions_answers_YN')
            img_dir = osp.join(folder, 'images')
            if not osp.isdir(qa_dir):
                qa_dir = img_dir = folder
            for txt in sorted(glob.glob(osp.join(qa_dir, '*.txt'))):
                out += self._read_pairs(task, txt, img_dir)
        return out

    def _read_pairs(self, task: str, txt: str, img_dir: str) -> List[dict]:
        stem = osp.splitext(osp.basename(txt))[0]
        image = next((osp.join(img_dir, stem + e) for e in IMAGE_EXTS
                      if osp.isfile(osp.join(img_dir, stem + e))),
                     osp.join(img_dir, stem + IMAGE_EXTS[0]))
        out = []
        with open(txt, encoding='utf-8') as f:
            lines = [ln.rstrip('\n') for ln in f if ln.strip()]
        for num, line in enumerate(lines, 1):
            qid = f'{task}/{stem}/{num}'
            parts = line.split('\t')
            if len(parts) != 2 or parts[1].strip().lower() not in ('yes',
                                                                   'no'):
                self.skip_or_raise(txt, qid, 'answer',
                                   'expected "question<TAB>Yes|No", got '
                                   f'{line!r}')
                continue
            out.append(dict(question_id=qid,
                            image=osp.relpath(image, self.data_prefix.get(
                                'img') or '.'),
                            question=parts[0].strip(),
                            answers=parts[1].strip().lower(),
                            meta=dict(subtask=task, image=stem)))
        return out
