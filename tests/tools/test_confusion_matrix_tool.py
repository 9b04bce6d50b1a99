"""tools/analysis_tools/confusion_matrix.py from dumped predictions and from
a checkpoint, and tools/test.py scoring tiny CIFAR-10 and Flickr8k test
sets with the evaluators of cifar10.py and flickr8k.py (a stand-in model
fills the predictions: the project's model has no cls / itc parts yet)."""
import glob
import importlib.util
import json
import os
import os.path as osp
import subprocess
import sys
import textwrap

import mmengine
import pytest
import torch

from image_level_files import write_cifar10, write_flickr8k

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOOL = osp.join(ROOT, 'tools', 'analysis_tools', 'confusion_matrix.py')
BASE = osp.join(ROOT, 'configs', '_base_', 'datasets', 'cifar10.py')

# reads the class off the red channel (= sample index, labels = index % 10)
# and misses sample 27 on purpose; embeds a Flickr image by its name and a
# caption by the name it holds ("caption n of e.jpg"), but f.jpg's captions
# as e.jpg's
TOY_MODEL = '''
import torch
from mmengine.model import BaseModel
from llava_detseg.registry import MODELS


def embed(name):
    return torch.eye(16)[sum(name.encode()) % 16]


@MODELS.register_module()
class ToyImageLevelModel(BaseModel):
    def __init__(self, data_preprocessor=None):
        super().__init__(data_preprocessor)
        self.scale = torch.nn.Parameter(torch.ones(1))

    def forward(self, inputs, data_samples=None, mode='tensor'):
        if mode == 'loss':
            return dict(loss=self.scale.sum() * 0)
        for img, sample in zip(inputs, data_samples):
            if 'itc' in sample.tasks:
                sample.pred_image_embed = embed(sample.img_id)
                sample.pred_text_embeds = torch.stack([
                    embed(c.split()[-2].replace('f.jpg', 'e.jpg'))
                    for c in sample.captions])
                continue
            red = int(img[2, img.shape[1] // 2, img.shape[2] // 2])  # BGR
            score = torch.full((10, ), 0.01)
            score[0 if red == 27 else red % 10] = 0.9
            score[red % 10] += 0.05
            sample.pred_score = score
        return data_samples
'''


def _config(tmp_path, data_root, flickr_root=None):
    flickr = f'''
                dict(type='Flickr8kDataset', data_root={flickr_root!r},
                     split='test', test_mode=True, tasks=('itc', ),
                     pipeline=_base_.flickr8k_test_pipeline),'''
    path = tmp_path / 'toy_image_level.py'
    path.write_text(textwrap.dedent(f'''
        _base_ = [{BASE!r}, {BASE.replace('cifar10', 'flickr8k')!r}]
        custom_imports = dict(imports=['toy_image_level_model'],
                              allow_failed_imports=False)
        default_scope = 'llava_detseg'
        model = dict(type='ToyImageLevelModel')
        test_dataloader = dict(
            batch_size=2, num_workers=0,
            sampler=dict(type='DefaultSampler', shuffle=False),
            dataset=dict(type='ConcatDataset', ignore_keys=['classes'],
                datasets=[
                dict(type='CIFAR10Dataset', data_root={data_root!r},
                     split='test', test_mode=True,
                     pipeline=_base_.cifar10_test_pipeline),
                {flickr if flickr_root else ''}]))
        test_cfg = dict(type='TestLoop')
        test_evaluator = [_base_.cifar10_accuracy_evaluator,
                          _base_.cifar10_cm_evaluator,
                          _base_.flickr8k_evaluator]
    '''))
    (tmp_path / 'toy_image_level_model.py').write_text(TOY_MODEL)
    ckpt = tmp_path / 'toy.pth'
    torch.save(dict(state_dict=dict(scale=torch.ones(1))), ckpt)
    return str(path), str(ckpt)


def _env(tmp_path):
    env = dict(os.environ)
    env['PYTHONPATH'] = os.pathsep.join(
        [str(tmp_path), osp.join(ROOT, 'projects'),
         env.get('PYTHONPATH', '')])
    return env


def _run(script, args, tmp_path):
    return subprocess.run([sys.executable, script, *args], cwd=ROOT,
                          env=_env(tmp_path), capture_output=True,
                          text=True, timeout=300)


def _tool():
    spec = importlib.util.spec_from_file_location('confusion_matrix_tool',
                                                  TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def toy(tmp_path):
    data_root = str(tmp_path / 'cifar10')
    write_cifar10(data_root, per_batch=5)  # test: indices 25..29
    flickr_root = write_flickr8k(str(tmp_path / 'flickr8k'))  # e, f.jpg
    return _config(tmp_path, data_root, flickr_root)


@pytest.mark.slow
def test_test_py_scores_cifar10_and_the_tool_draws_it(tmp_path, toy):
    config, ckpt = toy
    preds = str(tmp_path / 'preds.pkl')
    done = _run(osp.join(ROOT, 'tools', 'test.py'),
                [config, ckpt, '--work-dir', str(tmp_path / 'work'),
                 '--out', preds], tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert 'accuracy/top1: 80.0000' in done.stdout
    assert 'accuracy/top5: 100.0000' in done.stdout
    # f.jpg's image matches no caption, its captions match e.jpg
    for key, value in (('i2t_R@1', 50), ('i2t_R@5', 50), ('i2t_R@10', 100),
                       ('t2i_R@1', 50), ('t2i_R@5', 100)):
        assert f'retrieval/{key}: {value:.4f}' in done.stdout, key
    # the PNG of the evaluation, through the run's visualizer
    assert glob.glob(str(tmp_path / 'work' / '*' / 'vis_data' / 'vis_image' /
                         'confusion_matrix_0.png'))
    # from the dumped predictions
    out_json, png = str(tmp_path / 'cm.json'), str(tmp_path / 'cm.png')
    done = _run(TOOL, [config, preds, '--out', out_json, '--show-path', png,
                       '--include-values'], tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    matrix = json.load(open(out_json))
    assert sum(map(sum, matrix)) == 5 and matrix[7][0] == 1
    assert [matrix[i][i] for i in (5, 6, 7, 8, 9)] == [1, 1, 0, 1, 1]
    assert osp.getsize(png) > 1000
    # from the checkpoint: the same matrix
    out_pkl = str(tmp_path / 'cm.pkl')
    done = _run(TOOL, [config, ckpt, '--out', out_pkl], tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert mmengine.load(out_pkl).tolist() == matrix


def test_tool_on_predictions_without_classes_and_bad_paths(tmp_path, toy,
                                                           capsys):
    config, _ = toy
    tool = _tool()
    sys.path.insert(0, str(tmp_path))  # the config's custom import
    try:
        preds = str(tmp_path / 'none.pkl')
        mmengine.dump([dict(img_id=0, tasks=['det'])], preds)
        assert tool.main([config, preds]) == 1
        assert 'no sample carried a class prediction' in \
            capsys.readouterr().err
        mmengine.dump({'not': 'a list'}, preds)
        assert tool.main([config, preds]) == 1
        assert 'expected a list of data samples' in capsys.readouterr().err
        assert tool.main([config, str(tmp_path / 'nope.pkl')]) == 2
        good = str(tmp_path / 'good.pkl')
        mmengine.dump([dict(gt_label=torch.tensor([g]),
                            pred_label=torch.tensor([p]))
                       for g, p in ((0, 0), (3, 3), (3, 9))], good)
        assert tool.main([config, good, '--out',
                          str(tmp_path / 'm.json')]) == 0
        matrix = json.load(open(tmp_path / 'm.json'))
        assert len(matrix) == 10 and matrix[3] == [0] * 3 + [1] + [0] * 5 \
            + [1]
    finally:
        sys.path.remove(str(tmp_path))
