"""tools/misc/check_dataset.py counts the faults of the image-level datasets
(CIFAR-10, Fashion-MNIST, Flickr8k) by kind, from their _base_ pieces."""
import importlib.util
import os
import os.path as osp
import textwrap

import numpy as np

from image_level_files import (cifar_batch, write_cifar10,
                               write_fashion_mnist, write_flickr8k, write_idx,
                               write_pickle)

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
BASE = osp.join(ROOT, 'configs', '_base_', 'datasets')


def _tool():
    path = osp.join(ROOT, 'tools', 'misc', 'check_dataset.py')
    spec = importlib.util.spec_from_file_location('check_dataset_il', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _config(tmp_path, cifar, fmnist, flickr):
    path = tmp_path / 'cfg.py'
    bases = [osp.join(BASE, f'{n}.py')
             for n in ('cifar10', 'fashion_mnist', 'flickr8k')]
    path.write_text(textwrap.dedent(f'''
        _base_ = {bases!r}
        train_dataloader = dict(dataset=dict(
            type='CIFAR10Dataset', data_root={cifar!r},
            pipeline=_base_.cifar10_train_pipeline))
        val_dataloader = dict(dataset=dict(
            type='FashionMNISTDataset', data_root={fmnist!r}, split='test',
            pipeline=_base_.fashion_mnist_test_pipeline))
        test_dataloader = dict(dataset=dict(
            type='Flickr8kDataset', data_root={flickr!r}, split='train',
            pipeline=_base_.flickr8k_test_pipeline))
    '''))
    return str(path)


def test_clean_then_every_fault_counted_by_kind(tmp_path, capsys):
    cifar, fmnist = str(tmp_path / 'cifar'), str(tmp_path / 'fmnist')
    write_cifar10(cifar)
    write_fashion_mnist(fmnist)
    flickr = write_flickr8k(str(tmp_path / 'flickr'))
    cfg = _config(tmp_path, cifar, fmnist, flickr)
    tool = _tool()
    assert tool.main([cfg, '--no-progress']) == 0
    out = capsys.readouterr().out
    assert 'train (CIFAR10Dataset' in out and '10 samples, 0 faults' in out
    assert 'clean in 3 dataset(s)' in out

    bad = cifar_batch([0, 1], [0, 1], 'b2')
    bad['data'] = bad['data'][:, :100]
    write_pickle(osp.join(cifar, 'cifar-10-batches-py', 'data_batch_2'), bad)
    # 2 labels for the 3 test images
    write_idx(osp.join(fmnist, 't10k-labels-idx1-ubyte'),
              np.arange(2, dtype=np.uint8), gz=True)
    write_flickr8k(flickr, extra_lines=['a.jpg\tno number'])
    os.remove(osp.join(flickr, 'Flicker8k_Dataset', 'b.jpg'))
    assert tool.main([cfg, '--no-progress']) == 1
    out = capsys.readouterr().out
    for kind in ('cifar.data: 1', 'idx.count: 1', 'flickr8k.image#n: 1',
                 'flickr8k.missing image: 1'):
        assert kind in out, (kind, out)
    assert '4 faults in 3 dataset(s)' in out
