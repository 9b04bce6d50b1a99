"""tools/misc/check_dataset.py: every fault of a config's data, counted."""
import importlib.util
import json
import os.path as osp
import shutil

import numpy as np
import pytest
from PIL import Image

from conftest import ROOT


@pytest.fixture(scope='module')
def tool():
    path = osp.join(ROOT, 'tools', 'misc', 'check_dataset.py')
    spec = importlib.util.spec_from_file_location('check_dataset', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _run(tool, cfg, tmp_path, capsys, *args):
    path = str(tmp_path / 'cfg.py')
    cfg.dump(path)
    rc = tool.main([path, '--no-progress', *args])
    return rc, capsys.readouterr().out


def test_clean_data_exits_zero(tool, cfg, tmp_path, capsys):
    rc, out = _run(tool, cfg, tmp_path, capsys)
    assert rc == 0, out
    # val and test share a config: checked once
    assert 'train (ShapesDataset' in out and 'val (ShapesDataset' in out
    assert '16 samples, 0 faults' in out and 'clean in 2 dataset(s)' in out


def test_every_fault_is_counted_by_kind(tool, cfg, shapes_root, tmp_path,
                                        capsys):
    root = str(tmp_path / 'shapes')
    shutil.copytree(shapes_root, root)
    ann = osp.join(root, 'annotations', 'instances_train.json')
    data = json.load(open(ann))
    data['annotations'][0]['bbox'][2] = -1
    data['annotations'][-1]['category_id'] = 42  # another image's
    json.dump(data, open(ann, 'w'))
    for k in (2, 5):  # two maps with a label beyond the 4 classes
        path = osp.join(root, 'semantic', 'train', f'{k:06d}.png')
        labels = np.asarray(Image.open(path)).copy()
        labels[0, 0] = 9
        Image.fromarray(labels).save(path)
    img = osp.join(root, 'images', 'train', '000007.png')
    open(img, 'wb').write(open(img, 'rb').read()[:200])
    cfg.train_dataloader.dataset.data_root = root + '/'
    rc, out = _run(tool, cfg, tmp_path, capsys, '--split', 'train')
    assert rc == 1
    assert 'train (ShapesDataset' in out and 'val (' not in out
    assert '16 samples, 5 faults' in out, out
    lines = out.splitlines()
    for kind, n in (('coco.bbox', 1), ('coco.category_id', 1),
                    ('semantic.labels', 2), ('image.unreadable', 1)):
        assert f'  {kind}: {n}' in lines, out
    assert '000002.png' in out and '000005.png' in out and '[9]' in out
    assert '000007.png' in out and '5 faults in 1 dataset(s)' in out


def test_unusable_file_is_one_fault(tool, cfg, shapes_root, tmp_path,
                                    capsys):
    root = str(tmp_path / 'shapes')
    shutil.copytree(shapes_root, root)
    ann = osp.join(root, 'annotations', 'instances_val.json')
    data = json.load(open(ann))
    data['images'][1]['id'] = data['images'][0]['id']
    json.dump(data, open(ann, 'w'))
    cfg.val_dataloader.dataset.data_root = root + '/'
    cfg.test_dataloader.dataset.data_root = root + '/'
    rc, out = _run(tool, cfg, tmp_path, capsys, '--split', 'val')
    assert rc == 1
    assert 'coco.duplicate image id: 1' in out and 'declared twice' in out


def test_missing_config(tool, tmp_path, capsys):
    assert tool.main([str(tmp_path / 'nope.py')]) == 2
    assert 'does not exist' in capsys.readouterr().err
