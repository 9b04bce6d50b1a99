"""COCO-format instances + semantic maps + LLaVA conversations as one
multi-task dataset, for any classes (the base of the shapes and COCO 2017
datasets)."""
import os.path as osp
from collections import defaultdict
from functools import partial
from typing import Dict, List, Optional, Sequence

from mmdet.datasets import CocoDataset
from mmdet.datasets.api_wrappers import COCO
from mmengine.logging import print_log

from llava_detseg.registry import DATASETS
from llava_detseg.tasks import TASKS
from .errors import DataError, ErrorPolicy, data_error
from .validation import (conversation_problem, entry_name, field_kind,
                         load_coco_json, load_llava_json, validate_coco)
from .validation.coco import bbox_problem


@DATASETS.register_module()
class CocoFormatMultiTaskDataset(CocoDataset):
    """One sample per image carrying boxes, a semantic map and conversations.

    Subclasses mmdet's ``CocoDataset`` (which reads the instances and turns
    polygons, ids and boxes into mmdet's form) to add (1) the image's
    conversations from a LLaVA-format JSON, joined by file name, (2) the
    ``tasks`` each sample serves, and (3) validation: the COCO file is
    checked against the format's rules (``validation/coco.py``: ids, boxes,
    polygons, RLE sizes, categories against ``classes``) and the conversations
    against LLaVA's (``validation/conversations.py``) before mmdet parses
    them, and every image and map must exist; each fault gives a
    :class:`DataError` naming file, sample and field, or a counted, logged
    skip with ``on_error='skip'``. Decoded images and maps are checked by
    ``LoadImageWithCheck`` and ``CheckSemanticMap`` in the pipeline.

    Args:
        conv_file (str, optional): LLaVA-format JSON
            (``[{"id", "image", "conversations": [...]}]``), relative to
            ``data_root`` like ``ann_file``; ``image`` is relative to ``data_prefix['img']``.
        tasks (Sequence[str]): Tasks to serve, from :attr:`SERVES` (``det``,
            ``seg``, ``vqa``; ``ShapesDataset`` adds ``cls`` and ``itc``).
        on_error (str): ``'raise'`` (default) or ``'skip'``.
        check_files (bool): Check at start that every image and semantic map
            exists, so a run fails in seconds rather than hours in.
        **kwargs: ``CocoDataset`` arguments (``ann_file``, ``data_prefix``
            with ``img`` and ``seg``, ``seg_map_suffix``, ``metainfo``...).
            ``metainfo['seg_classes']`` names the semantic labels (default:
            ``background`` then ``classes``).
    """

    METAINFO = dict(classes=(), seg_classes=None, palette=None)
    #: the tasks this dataset can give samples of
    SERVES = TASKS

    def __init__(self,
                 *args,
                 conv_file: Optional[str] = None,
                 tasks: Sequence[str] = TASKS,
                 on_error: str = 'raise',
                 check_files: bool = True,
                 **kwargs) -> None:
        unknown = set(tasks) - set(self.SERVES)
        if unknown:
            raise ValueError(f'{type(self).__name__}: tasks '
                             f'{sorted(unknown)} are not served (it serves '
                             f'{self.SERVES}): fix dataset.tasks')
        data_root = kwargs.get('data_root')
        if conv_file and data_root and not osp.isabs(conv_file):
            conv_file = osp.join(data_root, conv_file)
        self.conv_file = conv_file
        self.tasks = tuple(tasks)
        self.check_files = check_files
        self.policy = ErrorPolicy(on_error, type(self).__name__)
        self._dropped_images: set = set()  # skipped, with their conversations
        super().__init__(*args, **kwargs)
        self._default_seg_classes()  # also when lazy_init skipped the load

    def _default_seg_classes(self) -> None:
        if self._metainfo.get('seg_classes') is None:
            self._metainfo['seg_classes'] = ('background', ) + tuple(
                self._metainfo['classes'])

    # ------------------------------------------------------------------
    def load_data_list(self) -> List[dict]:
        """The checked COCO file parsed by mmdet, plus conversations, tasks."""
        self._default_seg_classes()
        data = validate_coco(load_coco_json(self.ann_file), self.ann_file,
                             self.policy, self._metainfo['classes'])
        # mmdet reads the file itself through COCOAPI(path): hand it the
        # checked content instead (an instance attribute shadows the class's)
        self.COCOAPI = partial(_checked_coco, data)
        try:
            data_list = super().load_data_list()
        except (KeyError, TypeError, AttributeError) as e:
            # a rule validate_coco does not know yet: still one line
            raise DataError(f'{self.ann_file}: not a COCO instances file '
                            f'mmdet can parse ({type(e).__name__}: {e})'
                            ) from None
        finally:
            del self.COCOAPI
        data_list = [d for d in data_list if d is not None]
        if not data_list:
            raise DataError(f'{self.ann_file}: no usable image left')
        convs = self._load_conversations()
        for info in data_list:
            name = osp.relpath(info['img_path'], self.data_prefix['img'])
            info['conversations'] = convs.pop(name, [])
            info['tasks'] = self._tasks_of(info)
            # what CheckSemanticMap checks the labels against
            info['num_seg_classes'] = len(self._metainfo['seg_classes'])
        for name in set(convs) - self._dropped_images:
            self.policy(
                data_error(self.conv_file, f'image "{name}"', 'image',
                           f'not in the annotation file {self.ann_file}',
                           'llava.image'),
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
        """mmdet's parsing (of a checked entry), then the files' presence."""
        img = raw_data_info['raw_img_info']
        sample = f'image id {img.get("id")} "{img.get("file_name")}"'
        info = super().parse_data_info(raw_data_info)
        if self.check_files and not self._files_exist(info, sample):
            self._dropped_images.add(img['file_name'])
            return None
        return info

    def _files_exist(self, info: dict, sample: str) -> bool:
        if not osp.isfile(info['img_path']):
            self.policy(
                data_error(self.ann_file, sample, 'file_name',
                           f'image file {info["img_path"]} does not exist',
                           'image.missing file'), 'image')
            return False
        seg = info.get('seg_map_path')
        if 'seg' in self.tasks and seg and not osp.isfile(seg):
            self.policy(
                data_error(self.ann_file, sample, 'file_name',
                           f'semantic map {seg} does not exist',
                           'semantic.missing file'), 'image')
            return False
        return True

    # ------------------------------------------------------------------
    def _load_conversations(self) -> Dict[str, List[list]]:
        """Read the LLaVA JSON into ``{image file name: [conversation]}``."""
        if not self.conv_file or 'vqa' not in self.tasks:
            return {}
        by_image: Dict[str, List[list]] = defaultdict(list)
        for k, entry in enumerate(load_llava_json(self.conv_file)):
            problem, field = conversation_problem(entry)
            if problem:
                self.policy(
                    data_error(self.conv_file, entry_name(entry, k), field,
                               problem, field_kind('llava', field)),
                    'conversation')
                continue
            by_image[entry['image']].append(entry['conversations'])
        return by_image


def _checked_coco(data: dict, path: str) -> COCO:
    """mmdet's COCO API on already read and checked content."""
    coco = COCO()
    coco.dataset = data
    coco.createIndex()
    # mmdet's wrapper aliases these at construction, to the empty indices
    coco.img_ann_map, coco.cat_img_map = coco.imgToAnns, coco.catToImgs
    return coco


# the names other modules imported from here
_bbox_problem = bbox_problem
