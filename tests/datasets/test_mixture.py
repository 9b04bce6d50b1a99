"""MultiTaskConcatDataset metainfo and MixtureSampler draws."""
from collections import Counter

import pytest
from mmengine.dataset import BaseDataset

from llava_detseg.datasets import MixtureSampler, MultiTaskConcatDataset


class _Part(BaseDataset):
    def __init__(self, n, tasks, **meta):
        self.n, self.tasks = n, tasks
        super().__init__(metainfo=meta, serialize_data=False)

    def load_data_list(self):
        return [dict(i=i) for i in range(self.n)]


def _mixture(sizes=(10, 30, 5)):
    return MultiTaskConcatDataset([
        _Part(sizes[0], ('det', 'vqa'), classes=('a', 'b')),
        _Part(sizes[1], ('seg', ), classes=('x', 'y', 'z'),
              seg_classes=('x', 'y', 'z')),
        _Part(sizes[2], ('vqa', ), classes=()),
    ])


def test_metainfo_takes_each_task_keys_from_its_sources():
    ds = _mixture()
    assert ds.metainfo['classes'] == ('a', 'b')
    assert ds.metainfo['seg_classes'] == ('x', 'y', 'z')
    assert [ds.get_dataset_source(i) for i in (0, 9, 10, 44)] == [0, 0, 1, 2]
    with pytest.raises(ValueError,
                       match=r'"classes" of datasets.1 \(_Part\)'):
        MultiTaskConcatDataset([_Part(2, ('det', ), classes=('a', )),
                                _Part(2, ('det', ), classes=('b', ))])
    with pytest.raises(ValueError,
                       match=r"datasets.0 serves unknown tasks \['ocr'\]"):
        MultiTaskConcatDataset([_Part(2, ('ocr', ))])


def _source(ds, idx):
    return [ds.get_dataset_source(i) for i in idx]


def test_ratios_are_met_and_epochs_are_deterministic():
    ds = _mixture()
    s = MixtureSampler(ds, ratios=[1, 1, 2], num_samples=400, seed=3)
    counts = Counter(_source(ds, list(s)))
    assert counts == {0: 100, 1: 100, 2: 200}
    first = list(s)
    assert list(MixtureSampler(ds, ratios=[1, 1, 2], num_samples=400,
                               seed=3)) == first
    s.set_epoch(1)
    assert list(s) != first
    # a repeated small part shows each sample once per pass
    part2 = [i for i in first if ds.get_dataset_source(i) == 2]
    assert Counter(Counter(part2).values()) == {40: 5}


def test_ranks_take_equal_single_source_batches_in_step(monkeypatch):
    import llava_detseg.datasets.samplers.mixture_sampler as mod
    ds = _mixture()
    per_rank = []
    for rank in range(2):
        monkeypatch.setattr(mod, 'get_dist_info', lambda r=rank: (r, 2))
        s = MixtureSampler(ds, ratios=[1, 2, 1], num_samples=96,
                           batch_size=4, seed=0)
        per_rank.append(list(s))
        assert len(s) == len(per_rank[-1])
    assert len(per_rank[0]) == len(per_rank[1]) and len(per_rank[0]) % 4 == 0
    # at every step both ranks draw their whole batch from one source (mmdet
    # heads all_reduce inside their loss: all ranks must run the same heads)
    for k in range(0, len(per_rank[0]), 4):
        step = per_rank[0][k:k + 4] + per_rank[1][k:k + 4]
        assert len(set(_source(ds, step))) == 1
    assert len(set(per_rank[0]) & set(per_rank[1])) < len(per_rank[0])
    total = Counter(_source(ds, per_rank[0] + per_rank[1]))
    assert total[1] == 2 * total[0] == 2 * total[2]


def test_bad_arguments_are_named():
    ds = _mixture()
    with pytest.raises(ValueError, match='ratios has 2 entries'):
        MixtureSampler(ds, ratios=[1, 1], seed=0)
    with pytest.raises(ValueError, match='non-negative'):
        MixtureSampler(ds, ratios=[1, -1, 1], seed=0)
    with pytest.raises(TypeError, match='ConcatDataset'):
        MixtureSampler(_Part(3, ('det', )), seed=0)


def test_named_sources_task_filter_and_ratios_by_name():
    from mmengine.registry import init_default_scope
    init_default_scope('llava_detseg')
    parts = dict(det=_Part(6, ('det', 'vqa'), classes=('a', )),
                 seg=_Part(4, ('seg', ), seg_classes=('x', )),
                 chat=_Part(2, ('vqa', )))
    ds = MultiTaskConcatDataset(parts, tasks=['seg', 'vqa'])
    assert ds.names == ['det', 'seg', 'chat'] and ds.dropped == []
    ds = MultiTaskConcatDataset(parts, tasks=['seg'])
    assert ds.names == ['seg'] and ds.dropped == ['det', 'chat']
    s = MixtureSampler(ds, ratios=dict(det=1, seg=1, chat=3), seed=0)
    assert len(s) == 4
    with pytest.raises(ValueError, match=r"unknown sources \['coco'\]"):
        MixtureSampler(ds, ratios=dict(coco=1, seg=1), seed=0)
    with pytest.raises(ValueError, match=r"no ratio for the sources \['seg'"):
        MixtureSampler(ds, ratios=dict(det=1), seed=0)
    with pytest.raises(ValueError, match='no source serves'):
        MultiTaskConcatDataset(dict(seg=parts['seg']), tasks=['det'])
    # a config source of a multi-task dataset is narrowed before it loads
    cfg = dict(type='CocoFormatMultiTaskDataset', ann_file='never-read.json',
               tasks=('det', 'vqa'))
    ds = MultiTaskConcatDataset.__new__(MultiTaskConcatDataset)
    ds.tasks = ('det', )
    assert ds._narrow('coco', cfg)['tasks'] == ['det']
    ds.tasks = ('seg', )
    assert ds._narrow('coco', cfg) is None
