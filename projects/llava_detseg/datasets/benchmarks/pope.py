"""POPE: yes/no object-hallucination questions on COCO val2014."""
import os.path as osp
from typing import Dict, List

from llava_detseg.registry import DATASETS
from ..errors import DataError
from ..json_files import read_jsonl
from .base import VQABenchmarkDataset

POPE_SPLITS = ('random', 'popular', 'adversarial')


@DATASETS.register_module()
class POPEDataset(VQABenchmarkDataset):
    """POPE's question files (``coco_pope_{random,popular,adversarial}
    .json``, one JSON object per line: ``{"question_id", "image", "text",
    "label": "yes" | "no"}``), images from COCO val2014, scored per split by
    ``POPEMetric``. A question id is unique within its split, so the ids
    here are ``{split}/{question_id}``.

    Args:
        ann_files (dict): ``{split: file}``, relative to ``data_root``
            (default the three published files).
        **kwargs: :class:`VQABenchmarkDataset` arguments.
    """

    NAME = 'pope'

    def __init__(self, *args, ann_files: Dict[str, str] = None,
                 **kwargs) -> None:
        self.ann_files = dict(ann_files or {
            s: f'coco_pope_{s}.json' for s in POPE_SPLITS})
        super().__init__(*args, **kwargs)

    def load_questions(self) -> List[dict]:
        out = []
        if not self.ann_files:
            raise DataError('POPEDataset: ann_files names no split')
        for split, name in self.ann_files.items():
            file = osp.join(self.data_root, name)
            for k, q in enumerate(read_jsonl(file, f'POPE {split} file')):
                qid = f'{split}/' + str(q.get('question_id', f'#{k}')
                                        if isinstance(q, dict) else f'#{k}')
                if not isinstance(q, dict) or not all(
                        isinstance(q.get(f), str) for f in ('image', 'text')):
                    self.skip_or_raise(file, qid, 'text',
                                       'needs "image" and "text" strings')
                    continue
                label = q.get('label')
                if not isinstance(label, str) or label.strip().lower() \
                        not in ('yes', 'no'):
                    self.skip_or_raise(file, qid, 'label',
                                       f'expected "yes" or "no", got '
                                       f'{label!r}')
                    continue
                out.append(dict(question_id=qid, image=q['image'],
                                question=q['text'],
                                answers=label.strip().lower(),
                                meta=dict(split=split)))
        return out
