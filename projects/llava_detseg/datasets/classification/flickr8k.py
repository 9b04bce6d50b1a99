"""Flickr8k image-caption pairs from the published text files and folder."""
import os.path as osp
import re
from collections import OrderedDict
from typing import Dict, List, Optional, Sequence, Tuple

from mmengine.dataset import BaseDataset
from mmengine.logging import print_log

from llava_detseg.registry import DATASETS
from ..errors import DataError, ErrorPolicy, data_error, file_error
from .base import prompt_conversation

CAPTION_PROMPT = 'Describe the image briefly.'
FLICKR8K_TASKS = ('itc', 'vqa')
# "1000268201_693b08cb0e.jpg#0<TAB>A child in a pink dress ..."
_NAME_N = re.compile(r'^(?P<image>.+)#(?P<n>\d+)$')


def _read_lines(path: str, what: str) -> List[str]:
    if not osp.isfile(path):
        raise file_error(path, 'file', f'{what} does not exist',
                         'flickr8k.missing file')
    with open(path, encoding='utf-8') as f:
        return f.read().splitlines()


@DATASETS.register_module()
class Flickr8kDataset(BaseDataset):
    """`Flickr8k <https://hockenmaier.cs.illinois.edu/8k-pictures.html>`_:
    8091 images with five captions each, read as published.

    Reads ``Flickr8k.token.txt`` (lines ``image.jpg#n<TAB>caption``,
    ``n`` = 0..4), the split's ``Flickr_8k.{train,dev,test}Images.txt`` (one
    image name a line) and the images in ``Flicker8k_Dataset/`` (the
    published folder name, misspelt). As mmpretrain's ``Flickr30kRetrieval``
    in test mode, a sample is one image with all its captions, in ``n``
    order; here in training too, so that the image's backbone pass serves
    all of them. Each sample carries ``img_path``, ``img_id`` (the file
    name), ``captions`` (for the contrastive task and retrieval; the
    model's ``itc`` part picks one per step) and, as ``conversations`` in
    the LLaVA format, each caption answering ``prompt``, so the language
    branch trains on them (``SampleConversations`` bounds how many).

    Faults are :class:`DataError` s naming the file, the sample and the
    field, or counted skips with ``on_error='skip'``: a caption line without
    ``#n`` or a tab, an empty or repeated caption, a split image without a
    caption, and a caption whose image is not in the folder (checked for
    the split's images only: the published token file also captions
    ``2258277193_586949ec62.jpg.1``, which no split lists and the folder
    lacks).

    Args:
        data_root (str): The dataset's folder.
        ann_file (str): The caption file, relative to ``data_root``.
        split (str, optional): ``'train'``, ``'dev'`` or ``'test'``, which
            picks ``Flickr_8k.{split}Images.txt``; ``None``: every captioned
            image.
        split_file (str, optional): Another list of image names, relative
            to ``data_root`` (overrides ``split``'s).
        data_prefix (dict): ``img``: the image folder.
        prompt (str): The instruction the captions answer.
        tasks (Sequence[str]): From ``itc`` and ``vqa`` (the conversations).
        on_error (str): ``'raise'`` (default) or ``'skip'``.
        check_files (bool): Check at start that every image exists.
        benchmark (str, optional): Tag the samples with this name (for
            ``TaskMetric(benchmark=...)``, as the classification sets).
        **kwargs: ``BaseDataset`` arguments (``pipeline``, ``test_mode``...).
    """

    METAINFO = dict(classes=())
    SPLITS = ('train', 'dev', 'test')
    tasks = FLICKR8K_TASKS

    def __init__(self,
                 data_root: str = '',
                 ann_file: str = 'Flickr8k.token.txt',
                 split: Optional[str] = 'train',
                 split_file: Optional[str] = None,
                 data_prefix: dict = dict(img='Flicker8k_Dataset/'),
                 prompt: str = CAPTION_PROMPT,
                 tasks: Sequence[str] = FLICKR8K_TASKS,
                 on_error: str = 'raise',
                 check_files: bool = True,
                 benchmark: Optional[str] = None,
                 **kwargs) -> None:
        if split is not None and split not in self.SPLITS:
            raise ValueError(f'Flickr8kDataset: split must be one of '
                             f'{self.SPLITS} or None, got {split!r}')
        unknown = set(tasks) - set(FLICKR8K_TASKS)
        if unknown or not tasks:
            raise ValueError(f'Flickr8kDataset: tasks must be a non-empty '
                             f'subset of {FLICKR8K_TASKS}, got {tasks}')
        if split_file is None and split is not None:
            split_file = f'Flickr_8k.{split}Images.txt'
        if split_file and data_root and not osp.isabs(split_file):
            split_file = osp.join(data_root, split_file)
        self.split, self.split_file = split, split_file
        self.prompt = prompt
        self.tasks = tuple(tasks)
        self.check_files = check_files
        self.benchmark = benchmark
        self.policy = ErrorPolicy(on_error, type(self).__name__)
        super().__init__(data_root=data_root, ann_file=ann_file,
                         data_prefix=data_prefix, **kwargs)

    # ------------------------------------------------------------------
    def load_data_list(self) -> List[dict]:
        """One sample per image of the split, with its captions."""
        captions, first_line = self._read_captions()
        names = self._split_names(captions)
        img_root = self.data_prefix.get('img', '')
        data_list = []
        for name in names:
            path = osp.join(img_root, name)
            if self.check_files and not osp.isfile(path):
                self.policy(
                    data_error(self.ann_file,
                               f'line {first_line[name]} "{name}"', 'image',
                               f'captions an image that is not in the '
                               f'folder ({path} does not exist)',
                               'flickr8k.missing image'), 'image')
                continue
            caps = [c for _, c in sorted(captions[name].items())]
            info = dict(img_path=path, img_id=name, captions=caps,
                        tasks=list(self.tasks))
            if self.benchmark:
                info['benchmark'] = self.benchmark
            if 'vqa' in self.tasks:
                info['conversations'] = [
                    prompt_conversation(self.prompt, c) for c in caps
                ]
            data_list.append(info)
        if self.policy.skipped:
            print_log(f'Flickr8kDataset ({self.ann_file}, {self.split}): '
                      f'{len(data_list)} images; skipped '
                      f'{self.policy.summary()}', logger='current', level=30)
        if not data_list:
            raise DataError(f'{self.ann_file}: no usable image of split '
                            f'{self.split!r}')
        return data_list

    def _read_captions(
            self) -> Tuple['OrderedDict[str, Dict[int, str]]', Dict[str, int]]:
        """``{image: {n: caption}}`` and each image's first line number."""
        captions: 'OrderedDict[str, Dict[int, str]]' = OrderedDict()
        first_line: Dict[str, int] = {}
        for i, line in enumerate(_read_lines(self.ann_file, 'caption file'),
                                 1):
            if not line.strip():
                continue
            key, tab, caption = line.partition('\t')
            match = _NAME_N.match(key.strip())
            problem = field = None
            if not tab:
                problem, field = ('expected "image.jpg#n<TAB>caption", no '
                                  'tab in the line'), 'caption'
            elif match is None:
                problem, field = (f'expected "image.jpg#n" (n the caption '
                                  f'number), got {key.strip()!r}'), 'image#n'
            elif not caption.strip():
                problem, field = 'empty caption', 'caption'
            elif int(match['n']) in captions.get(match['image'], {}):
                problem, field = (f'caption #{match["n"]} of '
                                  f'{match["image"]} given twice'), 'image#n'
            if problem:
                self.policy(data_error(self.ann_file, f'line {i}', field,
                                       problem, f'flickr8k.{field}'),
                            'caption')
                continue
            name = match['image']
            captions.setdefault(name, {})[int(match['n'])] = caption.strip()
            first_line.setdefault(name, i)
        return captions, first_line

    def _split_names(self, captions: dict) -> List[str]:
        """The split's image names; a listed image without a
        caption is a fault of the split file."""
        if not self.split_file:
            return list(captions)
        names = []
        for i, line in enumerate(_read_lines(self.split_file, 'split file'),
                                 1):
            name = line.strip()
            if not name:
                continue
            if name not in captions:
                self.policy(
                    data_error(self.split_file, f'line {i} "{name}"',
                               'captions', f'no caption of this image in '
                               f'{osp.basename(self.ann_file)}',
                               'flickr8k.uncaptioned'), 'image')
                continue
            names.append(name)
        return names

    def get_cat_ids(self, idx: int) -> List[int]:
        """No categories (for wrappers that ask)."""
        return []
