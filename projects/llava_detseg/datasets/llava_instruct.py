"""LLaVA-Instruct-150K / llava_v1_5_mix665k conversations as VQA samples."""
import os.path as osp
from collections import OrderedDict
from typing import List

from mmengine.dataset import BaseDataset
from mmengine.logging import print_log

from llava_detseg.registry import DATASETS
from .errors import DataError, ErrorPolicy, data_error
from .validation import (conversation_problem, entry_name, field_kind,
                         load_llava_json)

TEXT_ONLY = ('skip', 'raise')


@DATASETS.register_module()
class LlavaInstructDataset(BaseDataset):
    """Image conversations in the LLaVA format, one sample per image.

    Reads ``[{"id", "image", "conversations": [{"from": "human", "value":
    "<image>\\n..."}, {"from": "gpt", ...}, ...]}]`` as LLaVA-Instruct-150K
    (``image`` = a COCO train2017 file name) and llava_v1_5_mix665k
    (``image`` = ``coco/train2017/...``, ``gqa/images/...``, ``vg/...``,
    relative to ``data_prefix['img']``) store it. Entries of the same image
    become one sample (one backbone pass; ``SampleConversations`` bounds how
    many are trained per step). Samples serve ``vqa`` only.

    Text-only entries (ShareGPT in mix665k, no ``image`` key) cannot feed
    this model, whose every sample needs an image: ``text_only='skip'``
    drops and counts them in one log line, ``'raise'`` stops at the first.

    Args:
        ann_file (str): The JSON, relative to ``data_root``.
        data_prefix (dict): ``img``: folder the ``image`` paths are
            relative to.
        text_only (str): ``'skip'`` (default) or ``'raise'``.
        on_error (str): ``'raise'`` (default) or ``'skip'`` a malformed
            entry or a missing image.
        check_files (bool): Check at start that every image exists.
        **kwargs: ``BaseDataset`` arguments (``data_root``, ``pipeline``,
            ``test_mode``, ``indices``...).
    """

    METAINFO = dict(classes=(), seg_classes=None, palette=None)
    tasks = ('vqa', )

    def __init__(self,
                 *args,
                 text_only: str = 'skip',
                 on_error: str = 'raise',
                 check_files: bool = True,
                 data_prefix: dict = dict(img=''),
                 **kwargs) -> None:
        if text_only not in TEXT_ONLY:
            raise ValueError(f'{type(self).__name__}: text_only must be one '
                             f'of {TEXT_ONLY}, got "{text_only}"')
        self.text_only = text_only
        self.policy = ErrorPolicy(on_error, type(self).__name__)
        self.check_files = check_files
        super().__init__(*args, data_prefix=data_prefix, **kwargs)

    def load_data_list(self) -> List[dict]:
        """Validate every entry and group the conversations by image."""
        entries = load_llava_json(self.ann_file)
        by_image: 'OrderedDict[str, List[list]]' = OrderedDict()
        ids = {}
        text_only = 0
        for k, entry in enumerate(entries):
            sample = entry_name(entry, k)
            if isinstance(entry, dict) and 'image' not in entry:
                if self.text_only == 'raise':
                    raise data_error(
                        self.ann_file, sample, 'image',
                        'text-only entry; every sample of this model needs '
                        'an image (set text_only="skip" to leave them out)')
                text_only += 1
                continue
            problem, field = conversation_problem(entry)
            if problem:
                self.policy(data_error(self.ann_file, sample, field, problem,
                                       field_kind('llava', field)),
                            'conversation')
                continue
            by_image.setdefault(entry['image'], []).append(
                entry['conversations'])
            ids.setdefault(entry['image'], str(entry.get('id', k)))
        img_root = self.data_prefix.get('img', '')
        data_list = []
        for name, convs in by_image.items():
            path = osp.join(img_root, name)
            if self.check_files and not osp.isfile(path):
                self.policy(
                    data_error(self.ann_file, f'id {ids[name]!r}', 'image',
                               f'image file {path} does not exist',
                               'image.missing file'), 'image')
                continue
            data_list.append(
                dict(img_path=path, img_id=ids[name], conversations=convs,
                     tasks=['vqa']))
        if text_only or self.policy.skipped:
            print_log(
                f'{type(self).__name__} ({self.ann_file}): '
                f'{len(data_list)} images; left out {text_only} text-only '
                f'entries' + (f', {self.policy.summary()}'
                              if self.policy.skipped else ''),
                logger='current', level=30)
        if not data_list:
            raise DataError(f'{self.ann_file}: no usable image conversation')
        return data_list

    def get_cat_ids(self, idx: int) -> List[int]:
        """No categories (for wrappers that ask)."""
        return []


