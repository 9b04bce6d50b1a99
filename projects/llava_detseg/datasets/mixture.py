"""Several single- or multi-task datasets as one, with merged metainfo."""
from typing import List, Sequence, Union

from mmengine.dataset import BaseDataset, ConcatDataset

from llava_detseg.registry import DATASETS
from llava_detseg.tasks import TASKS

# The metainfo keys each task owns: the mixture takes them from the sources
# serving that task, which must agree.
TASK_META_KEYS = dict(det=('classes', 'palette'),
                      seg=('seg_classes', 'seg_palette'), vqa=())


@DATASETS.register_module()
class MultiTaskConcatDataset(ConcatDataset):
    """mmengine's ``ConcatDataset`` over datasets that serve different tasks.

    mmengine demands equal metainfo of all parts; COCO (80 thing classes for
    ``det``) and ADE20K (150 classes for ``seg``) differ by design. Here each
    task's keys come from the parts that serve it (``classes`` / ``palette``
    from ``det`` sources, ``seg_classes`` / ``seg_palette`` from ``seg``
    sources); two sources of one task with different classes are an error.
    Sample with ``MixtureSampler`` for ratios other than the sizes.

    Args:
        datasets (Sequence[dict | BaseDataset]): The parts; each has a
            ``tasks`` attribute (``MultiTaskCocoDataset``,
            ``ADE20KSegDataset``, ``LlavaInstructDataset``).
        lazy_init (bool): As in ``ConcatDataset``.
    """

    def __init__(self,
                 datasets: Sequence[Union[dict, BaseDataset]],
                 lazy_init: bool = False) -> None:
        if not datasets:
            raise ValueError('MultiTaskConcatDataset: datasets is empty')
        built = [DATASETS.build(d) if isinstance(d, dict) else d
                 for d in datasets]
        keys = sorted({k for d in built for k in d.metainfo})
        super().__init__(built, lazy_init=lazy_init, ignore_keys=keys)
        self._metainfo = self._merge_metainfo()

    def source_name(self, i: int) -> str:
        d = self.datasets[i]
        return f'datasets[{i}] ({type(d).__name__}, ' \
            f'{getattr(d, "ann_file", "") or d.data_root})'

    def _merge_metainfo(self) -> dict:
        meta: dict = {}
        owner: dict = {}
        for i, d in enumerate(self.datasets):
            tasks = getattr(d, 'tasks', None)
            if tasks is None or set(tasks) - set(TASKS):
                raise ValueError(
                    f'MultiTaskConcatDataset: {self.source_name(i)} has no '
                    f'"tasks" attribute from {TASKS}')
            for task in tasks:
                for key in TASK_META_KEYS[task]:
                    value = d.metainfo.get(key)
                    if value is None:
                        continue
                    if key in owner and _norm(meta[key]) != _norm(value):
                        raise ValueError(
                            f'MultiTaskConcatDataset: "{key}" of '
                            f'{self.source_name(i)} differs from that of '
                            f'{self.source_name(owner[key])}; two sources of '
                            f'task "{task}" must share their classes')
                    meta.setdefault(key, value)
                    owner.setdefault(key, i)
        for d in self.datasets:  # other keys: the first source that has them
            for key, value in d.metainfo.items():
                meta.setdefault(key, value)
        return meta

    def get_dataset_source(self, idx: int) -> int:
        """Index of the part that sample ``idx`` comes from."""
        dataset_idx, _ = self._get_ori_dataset_idx(idx)
        return dataset_idx

    @property
    def sizes(self) -> List[int]:
        """Number of samples of each part."""
        return [len(d) for d in self.datasets]


def _norm(value):
    """Compare tuples and lists (and lists of tuples) alike."""
    if isinstance(value, (list, tuple)):
        return [_norm(v) for v in value]
    return value
