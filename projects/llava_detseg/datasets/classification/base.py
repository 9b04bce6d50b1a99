"""Shared parts of the image-level datasets: split, error policy, prompts."""
from typing import List, Optional

from mmengine.dataset import BaseDataset
from mmengine.logging import print_log

from ..errors import DataError, ErrorPolicy, data_error

IMAGE_TOKEN = '<image>'


def prompt_conversation(prompt: str, answer: str) -> List[dict]:
    """One LLaVA-format exchange: ``<image>\\n{prompt}`` answered by
    ``answer`` (the form ``LlavaInstructDataset`` reads)."""
    return [
        dict(**{'from': 'human', 'value': f'{IMAGE_TOKEN}\n{prompt}'}),
        dict(**{'from': 'gpt', 'value': answer}),
    ]


class ImageClassificationDataset(BaseDataset):
    """Base of the datasets that give one class per image (CIFAR-10,
    Fashion-MNIST), read from the files their authors publish.

    Each sample holds its image as an array (``img``; ``LoadImageFromArray``
    makes it a 3-channel BGR image like any decoded file), its class index
    (``gt_label``; packed by ``PackMultiTaskInputs`` as mmpretrain packs
    it), an ``img_id`` (its index in the split) and the ``tasks`` it serves:
    ``cls``, and ``vqa`` when ``question`` is set, in which case the class
    name is also asked as a LLaVA conversation (``question`` -> class name)
    so the language branch learns the same classes in words.

    Subclasses read their files in :meth:`load_samples` and return
    ``(images, labels, source)`` lists; this class checks the labels against
    ``classes`` and builds the samples.

    Args:
        data_root (str): The dataset's folder.
        split (str): ``'train'`` or ``'test'``.
        question (str, optional): Also ask the class as this question, e.g.
            ``'What is in this image?'``.
        on_error (str): ``'raise'`` (default) or ``'skip'`` a bad file or
            sample, counted in one log line.
        benchmark (str, optional): Tag the samples with this name, so that
            ``TaskMetric(task='cls', benchmark=...)`` scores them apart from
            another classification set evaluated in the same run.
        **kwargs: ``BaseDataset`` arguments (``pipeline``, ``test_mode``,
            ``metainfo``, ``indices``...).
    """

    SPLITS = ('train', 'test')
    tasks = ('cls', )

    def __init__(self,
                 data_root: str = '',
                 split: str = 'train',
                 question: Optional[str] = None,
                 on_error: str = 'raise',
                 benchmark: Optional[str] = None,
                 **kwargs) -> None:
        if split not in self.SPLITS:
            raise ValueError(f'{type(self).__name__}: split must be one of '
                             f'{self.SPLITS}, got {split!r}')
        if not data_root:
            raise ValueError(f'{type(self).__name__}: data_root (the folder '
                             'of the published files) is required')
        self.split = split
        self.question = question
        self.benchmark = benchmark
        self.policy = ErrorPolicy(on_error, type(self).__name__)
        if question:
            self.tasks = ('cls', 'vqa')
        super().__init__(ann_file='', data_root=data_root, **kwargs)

    def load_samples(self) -> tuple:
        """``(images, labels, sources)``: per-sample arrays, class indices
        and where each came from, ``(image file, label file, index in the
        files)`` (for messages)."""
        raise NotImplementedError

    def load_data_list(self) -> List[dict]:
        """The subclass's images and labels as samples, labels checked."""
        images, labels, sources = self.load_samples()
        classes = self._metainfo['classes']
        data_list = []
        for img, label, (img_file, label_file, k) in zip(images, labels,
                                                         sources):
            label = int(label)
            if not 0 <= label < len(classes):
                self.policy(
                    data_error(label_file, str(k), 'labels',
                               f'label {label} is not a class index 0..'
                               f'{len(classes) - 1} ({len(classes)} '
                               'classes)', 'labels.range'), 'sample')
                continue
            info = dict(img=img, gt_label=label, img_id=len(data_list),
                        img_source=img_file, tasks=list(self.tasks))
            if self.benchmark:
                info['benchmark'] = self.benchmark
            if self.question:
                info['conversations'] = [
                    prompt_conversation(self.question, classes[label])
                ]
            data_list.append(info)
        if self.policy.skipped:
            print_log(f'{type(self).__name__} ({self.data_root}, '
                      f'{self.split}): {len(data_list)} samples; skipped '
                      f'{self.policy.summary()}', logger='current', level=30)
        if not data_list:
            raise DataError(f'{self.data_root}: no usable {self.split} sample')
        return data_list

    def get_cat_ids(self, idx: int) -> List[int]:
        """The sample's class (for class-balanced wrappers)."""
        return [int(self.get_data_info(idx)['gt_label'])]
