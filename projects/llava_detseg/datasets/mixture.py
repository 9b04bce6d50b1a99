"""Several single- or multi-task datasets as one, with merged metainfo."""
from typing import Dict, List, Optional, Sequence, Union

from mmengine.dataset import BaseDataset, ConcatDataset

from llava_detseg.registry import DATASETS
from llava_detseg.tasks import check_tasks, known_tasks, task_spec

DatasetCfg = Union[dict, BaseDataset]


@DATASETS.register_module()
class MultiTaskConcatDataset(ConcatDataset):
    """mmengine's ``ConcatDataset`` over named datasets serving other tasks.

    mmengine demands equal metainfo of all parts; COCO (80 thing classes for
    ``det``) and ADE20K (150 classes for ``seg``) differ by design. Here each
    task's keys come from the parts that serve it (``classes`` / ``palette``
    from ``det`` sources, ``seg_classes`` / ``seg_palette`` from ``seg``
    sources, ``cls_classes`` from ``cls`` sources: the ``meta_keys`` of each
    task part); two sources of one task with different classes are an
    error.

    Sources are named (a dict), so a child config changes one by name and
    ``MixtureSampler`` takes its ratios by name. ``tasks`` keeps only the
    sources serving those tasks, before any of them loads its annotations,
    and narrows the kept ones' ``tasks``: an ablation switches a task off
    with one line.

    Args:
        datasets (dict[str, dict | BaseDataset] | list): The parts, each
            with a ``tasks`` attribute or argument
            (``Coco2017MultiTaskDataset``, ``ADE20KSegDataset``,
            ``LlavaInstructDataset``); a list is named ``'0'``, ``'1'``...
        tasks (Sequence[str], optional): Tasks to keep (``None``: all).
        lazy_init (bool): As in ``ConcatDataset``.
    """

    def __init__(self,
                 datasets: Union[Dict[str, DatasetCfg], Sequence[DatasetCfg]],
                 tasks: Optional[Sequence[str]] = None,
                 lazy_init: bool = False) -> None:
        if not isinstance(datasets, dict):
            datasets = {str(i): d for i, d in enumerate(datasets)}
        if tasks is not None:
            check_tasks(tasks, 'MultiTaskConcatDataset: tasks')
        self.tasks = tuple(tasks) if tasks is not None else known_tasks()
        self.names: List[str] = []
        self.dropped: List[str] = []
        built = []
        for name, d in datasets.items():
            if d is None:  # a child config removed it
                self.dropped.append(name)
                continue
            d = self._narrow(name, d)
            if d is None:
                self.dropped.append(name)
                continue
            self.names.append(name)
            built.append(DATASETS.build(d) if isinstance(d, dict) else d)
        if not built:
            raise ValueError(
                f'MultiTaskConcatDataset: no source serves the tasks '
                f'{list(self.tasks)} (sources: {list(datasets)})')
        keys = sorted({k for d in built for k in d.metainfo})
        super().__init__(built, lazy_init=lazy_init, ignore_keys=keys)
        self._metainfo = self._merge_metainfo()

    def _narrow(self, name: str,
                d: DatasetCfg) -> Optional[DatasetCfg]:
        """The source restricted to ``self.tasks``, or ``None`` if unused."""
        if isinstance(d, dict):
            cls = DATASETS.get(d.get('type'))
            if cls is None:
                raise KeyError(f'MultiTaskConcatDataset: datasets.{name}: '
                               f'unknown type "{d.get("type")}"')
            serves = d.get('tasks') or getattr(cls, 'tasks', None) or \
                known_tasks()
        else:
            serves = getattr(d, 'tasks', known_tasks())
        unknown = sorted(set(serves) - set(known_tasks()))
        if unknown:
            raise ValueError(
                f'MultiTaskConcatDataset: datasets.{name} serves unknown '
                f'tasks {unknown}; known: {known_tasks()}')
        keep = [t for t in serves if t in self.tasks]
        if not keep:
            return None
        if isinstance(d, dict) and len(keep) < len(serves):
            if not isinstance(getattr(cls, 'tasks', None), tuple):
                d = dict(d, tasks=keep)  # a multi-task source narrows
        return d

    def source_name(self, i: int) -> str:
        d = self.datasets[i]
        return f'datasets.{self.names[i]} ({type(d).__name__})'

    def _merge_metainfo(self) -> dict:
        meta: dict = {}
        owner: dict = {}
        for i, d in enumerate(self.datasets):
            tasks = getattr(d, 'tasks', None)
            if tasks is None or set(tasks) - set(known_tasks()):
                raise ValueError(
                    f'MultiTaskConcatDataset: {self.source_name(i)} has no '
                    f'"tasks" attribute from {known_tasks()}')
            for task in tasks:
                for key in task_spec(task).meta_keys:
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


def _norm(value):
    """Compare tuples and lists (and lists of tuples) alike."""
    if isinstance(value, (list, tuple)):
        return [_norm(v) for v in value]
    return value
