"""COCO instances + semantic maps + LLaVA conversations as one dataset."""
import json
import math
import os.path as osp
from collections import defaultdict
from typing import Dict, List, Optional, Sequence

from mmdet.datasets import CocoDataset
from mmengine.logging import print_log

from llava_detseg.registry import DATASETS
from llava_detseg.tasks import TASKS
from .errors import DataError, ErrorPolicy, data_error


@DATASETS.register_module()
class MultiTaskCocoDataset(CocoDataset):
    """One sample per image carrying boxes, a semantic map and conversations.

    Subclasses mmdet's ``CocoDataset`` (which reads the instances and turns
    polygons, ids and boxes into mmdet's form) to add (1) the image's
    conversations from a LLaVA-format JSON, joined by file name, (2) the
    ``tasks`` each sample serves, and (3) validation: mmdet silently drops a
    box of non-positive size and fails late on a missing file; here each
    gives a :class:`DataError` naming file, sample and field, or a counted,
    logged skip with ``on_error='skip'``.

    Args:
        conv_file (str, optional): LLaVA-format JSON
            (``[{"id", "image", "conversations": [...]}]``), relative to
            ``data_root`` like ``ann_file``; ``image`` is relative to ``data_prefix['img']``.
        tasks (Sequence[str]): Tasks to serve, from ``det``, ``seg``, ``vqa``.
        on_error (str): ``'raise'`` (default) or ``'skip'``.
        check_files (bool): Check at start that every image and semantic map
            exists, so a run fails in seconds rather than hours in.
        **kwargs: ``CocoDataset`` arguments (``ann_file``, ``data_prefix``
            with ``img`` and ``seg``, ``seg_map_suffix``, ``metainfo``...).
            ``metainfo['seg_classes']`` names the semantic labels (default:
            ``background`` then ``classes``).
    """

    METAINFO = dict(classes=(), seg_classes=None, palette=None)

    def __init__(self,
                 *args,
                 conv_file: Optional[str] = None,
                 tasks: Sequence[str] = TASKS,
                 on_error: str = 'raise',
                 check_files: bool = True,
                 **kwargs) -> None:
        unknown = set(tasks) - set(TASKS)
        if unknown:
            raise ValueError(f'{type(self).__name__}: unknown tasks '
                             f'{sorted(unknown)}; known: {TASKS}')
        data_root = kwargs.get('data_root')
        if conv_file and data_root and not osp.isabs(conv_file):
            conv_file = osp.join(data_root, conv_file)
        self.conv_file = conv_file
        self.tasks = tuple(tasks)
        self.check_files = check_files
        self.policy = ErrorPolicy(on_error, type(self).__name__)
        self._dropped_images: set = set()  # skipped, with their conversations
        super().__init__(*args, **kwargs)
        if self._metainfo.get('seg_classes') is None:
            self._metainfo['seg_classes'] = ('background', ) + tuple(
                self._metainfo['classes'])

    # ------------------------------------------------------------------
    def load_data_list(self) -> List[dict]:
        """mmdet's COCO parsing plus conversations, tasks and checks."""
        if not osp.isfile(self.ann_file):
            raise DataError(f'{self.ann_file}: annotation file not found')
        try:
            data_list = super().load_data_list()
        except (json.JSONDecodeError, KeyError, TypeError) as e:
            raise DataError(f'{self.ann_file}: not a COCO instances file '
                            f'({type(e).__name__}: {e})') from None
        data_list = [d for d in data_list if d is not None]
        convs = self._load_conversations()
        for info in data_list:
            name = osp.relpath(info['img_path'], self.data_prefix['img'])
            info['conversations'] = convs.pop(name, [])
            info['tasks'] = self._tasks_of(info)
        for name in set(convs) - self._dropped_images:
            self.policy(
                data_error(self.conv_file, f'image "{name}"', 'image',
                           f'not in the annotation file {self.ann_file}'),
                'conversation image')
        if self.policy.skipped:
            print_log(f'{type(self).__name__} ({self.ann_file}): '
                      f'{self.policy.summary()} skipped', logger='current',
                      level=30)
        return data_list

    def _tasks_of(self, info: dict) -> List[str]:
        tasks = []
        if 'det' in self.tasks:
            tasks.append('det')
        if 'seg' in self.tasks and info.get('seg_map_path'):
            tasks.append('seg')
        if 'vqa' in self.tasks and info['conversations']:
            tasks.append('vqa')
        return tasks

    def parse_data_info(self, raw_data_info: dict) -> Optional[dict]:
        """Check the image, its files and every box before mmdet parses."""
        img = raw_data_info['raw_img_info']
        sample = f'image id {img.get("id")} "{img.get("file_name")}"'
        for field in ('file_name', 'width', 'height'):
            if field not in img:
                self.policy(
                    data_error(self.ann_file, sample, f'images[].{field}',
                               'missing'), 'image')
                return None
        good = []
        for ann in raw_data_info['raw_ann_info']:
            problem = _bbox_problem(ann.get('bbox'))
            if problem:
                self.policy(
                    data_error(self.ann_file,
                               f'{sample}, annotation id {ann.get("id")}',
                               'bbox', problem), 'annotation')
                continue
            good.append(ann)
        raw_data_info['raw_ann_info'] = good
        info = super().parse_data_info(raw_data_info)
        if self.check_files and not self._files_exist(info, sample):
            self._dropped_images.add(img['file_name'])
            return None
        return info

    def _files_exist(self, info: dict, sample: str) -> bool:
        if not osp.isfile(info['img_path']):
            self.policy(
                data_error(self.ann_file, sample, 'file_name',
                           f'image file {info["img_path"]} does not exist'),
                'image')
            return False
        seg = info.get('seg_map_path')
        if 'seg' in self.tasks and seg and not osp.isfile(seg):
            self.policy(
                data_error(self.ann_file, sample, 'file_name',
                           f'semantic map {seg} does not exist'), 'image')
            return False
        return True

    # ------------------------------------------------------------------
    def _load_conversations(self) -> Dict[str, List[list]]:
        """Read the LLaVA JSON into ``{image file name: [conversation]}``."""
        if not self.conv_file or 'vqa' not in self.tasks:
            return {}
        path = self.conv_file
        if not osp.isfile(path):
            raise DataError(f'{path}: conversation file not found')
        try:
            with open(path, encoding='utf-8') as f:
                entries = json.load(f)
        except json.JSONDecodeError as e:
            raise DataError(f'{path}: not valid JSON ({e})') from None
        if not isinstance(entries, list):
            raise DataError(f'{path}: expected a JSON list of LLaVA entries, '
                            f'got {type(entries).__name__}')
        by_image: Dict[str, List[list]] = defaultdict(list)
        for k, entry in enumerate(entries):
            problem, field = _conversation_problem(entry)
            if problem:
                sample = f'entry {k} (id {entry.get("id")!r})' if isinstance(
                    entry, dict) else f'entry {k}'
                self.policy(data_error(path, sample, field, problem),
                            'conversation')
                continue
            by_image[entry['image']].append(entry['conversations'])
        return by_image


def _bbox_problem(bbox) -> Optional[str]:
    """Why a COCO ``[x, y, w, h]`` box is unusable, or ``None``."""
    if not isinstance(bbox, (list, tuple)) or len(bbox) != 4:
        return f'expected [x, y, w, h], got {bbox!r}'
    if not all(isinstance(v, (int, float)) and math.isfinite(v)
               for v in bbox):
        return f'non-numeric or non-finite value in {bbox!r}'
    if bbox[2] <= 0 or bbox[3] <= 0:
        return f'non-positive width or height in {list(bbox)!r}'
    return None


def _conversation_problem(entry) -> tuple:
    """``(problem, field)`` of a LLaVA entry, or ``(None, None)``."""
    if not isinstance(entry, dict):
        return f'expected an object, got {type(entry).__name__}', '.'
    if not isinstance(entry.get('image'), str):
        return 'missing image file name', 'image'
    turns = entry.get('conversations')
    if not isinstance(turns, list) or not turns:
        return 'missing or empty', 'conversations'
    for t, turn in enumerate(turns):
        role = 'human' if t % 2 == 0 else 'gpt'
        if not isinstance(turn, dict) or turn.get('from') != role or \
                not isinstance(turn.get('value'), str):
            return (f'expected {{"from": "{role}", "value": str}}',
                    f'conversations[{t}]')
    if len(turns) % 2:
        return 'ends with a human turn that has no answer', 'conversations'
    n = turns[0]['value'].count('<image>')
    if n != 1 or any('<image>' in t['value'] for t in turns[1:]):
        return ('the first human turn must hold exactly one "<image>" '
                f'(it holds {n}) and no other turn may'), \
            'conversations[0].value'
    return None, None
