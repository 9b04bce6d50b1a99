"""configs/_base_/datasets/{cifar10,fashion_mnist,flickr8k}.py build their
datasets on tiny files in the published formats, and their evaluators score
hand-made predictions."""
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.evaluator import Evaluator
from mmengine.registry import init_default_scope

from image_level_files import (write_cifar10, write_fashion_mnist,
                               write_flickr8k)
from llava_detseg.registry import DATASETS, METRICS
from llava_detseg.utils import register_all_modules

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
BASE = osp.join(ROOT, 'configs', '_base_', 'datasets')
WRITERS = dict(cifar10=write_cifar10, fashion_mnist=write_fashion_mnist,
               flickr8k=write_flickr8k)


def _pieces(name, root):
    cfg = Config.fromfile(osp.join(BASE, f'{name}.py'))
    out = {}
    for split in ('train', 'test'):
        ds = dict(cfg[f'{name}_{split}'])
        ds['data_root'] = root
        out[split] = ds
    return out, cfg[f'{name}_evaluator']


@pytest.mark.parametrize('name', sorted(WRITERS))
def test_datasets_build_and_pipelines_run(tmp_path, name):
    register_all_modules()
    init_default_scope('llava_detseg')
    root = str(tmp_path / name)
    WRITERS[name](root)
    pieces, _ = _pieces(name, root)
    for split, cfg in pieces.items():
        ds = DATASETS.build(cfg)
        out = ds[0]
        assert out['inputs'].shape == (3, 384, 384), (name, split)
        sample = out['data_samples']
        if name == 'flickr8k':
            assert len(sample.captions) == (1 if split == 'train' else 5)
            assert sample.tasks == (['itc', 'vqa'] if split == 'train'
                                    else ['itc'])
        else:
            assert sample.tasks == ['cls'] and sample.gt_label.shape == (1, )


@pytest.mark.parametrize('name', ['cifar10', 'fashion_mnist'])
def test_classification_evaluators_score_hand_made_predictions(tmp_path,
                                                               name):
    register_all_modules()
    init_default_scope('llava_detseg')
    root = str(tmp_path / name)
    WRITERS[name](root)
    pieces, evaluator_cfg = _pieces(name, root)
    ds = DATASETS.build(pieces['test'])
    samples = []
    for k in range(len(ds)):
        sample = ds[k]['data_samples']
        gt = int(sample.gt_label)
        # right for every sample but the first, which ranks gt 2nd
        score = torch.zeros(10)
        score[gt] = 0.6
        score[(gt + 1) % 10] = 0.7 if k == 0 else 0.1
        sample.pred_score = score
        samples.append(sample)
    evaluator = Evaluator(evaluator_cfg)
    evaluator.dataset_meta = ds.metainfo
    evaluator.process(samples)
    metrics = evaluator.evaluate(len(samples))
    n = len(samples)
    assert metrics['accuracy/top1'] == pytest.approx(100 * (n - 1) / n)
    assert metrics['accuracy/top5'] == 100.0
    matrix = metrics['confusion_matrix/result']
    assert matrix.shape == (10, 10) and int(matrix.trace()) == n - 1


def test_retrieval_evaluator_scores_hand_made_embeddings(tmp_path):
    register_all_modules()
    init_default_scope('llava_detseg')
    root = str(tmp_path / 'flickr8k')
    write_flickr8k(root)
    pieces, evaluator_cfg = _pieces('flickr8k', root)
    ds = DATASETS.build(pieces['test'])
    samples = []
    for k in range(len(ds)):
        sample = ds[k]['data_samples']
        sample.pred_image_embed = torch.eye(4)[k]
        sample.pred_text_embeds = torch.eye(4)[k].repeat(
            len(sample.captions), 1)
        samples.append(sample)
    evaluator = Evaluator(evaluator_cfg)
    evaluator.process(samples)
    metrics = evaluator.evaluate(len(samples))
    assert metrics['retrieval/i2t_R@1'] == 100.0
    assert metrics['retrieval/t2i_R@10'] == 100.0


def test_cifar10_class_asked_in_words_is_scored_on_the_answer(tmp_path):
    register_all_modules()
    init_default_scope('llava_detseg')
    root = str(tmp_path / 'cifar10')
    write_cifar10(root)
    cfg = Config.fromfile(osp.join(BASE, 'cifar10.py'))
    ds = DATASETS.build(dict(cfg.cifar10_test, data_root=root,
                             question='What is in this image?'))
    sample = ds[1]['data_samples']
    assert sample.tasks == ['cls', 'vqa']
    answer = sample.conversations[0][1]['value']
    assert answer == 'automobile'
    # what the language path fills for that question, scored in words
    metric = METRICS.build(cfg.cifar10_answer_evaluator)
    asked = [dict(tasks=['cls', 'vqa'], pred_answers=[pred],
                  gt_answers=[answer]) for pred in ('Automobile.', 'truck')]
    metric.process(None, asked)
    assert metric.evaluate(2) == {'cls_answer/accuracy': 0.5,
                                  'cls_answer/num_questions': 2}


def test_two_classification_sets_in_one_run_are_scored_apart(tmp_path):
    register_all_modules()
    init_default_scope('llava_detseg')
    cifar, fmnist = str(tmp_path / 'c'), str(tmp_path / 'f')
    write_cifar10(cifar)
    write_fashion_mnist(fmnist, num_test=3)
    samples = []
    for name, root, right in (('cifar10', cifar, True),
                              ('fashion_mnist', fmnist, False)):
        pieces, _ = _pieces(name, root)
        ds = DATASETS.build(dict(pieces['test'], benchmark=name))
        for k in range(len(ds)):
            sample = ds[k]['data_samples']
            assert sample.benchmark == name
            gt = int(sample.gt_label)
            sample.pred_score = torch.eye(10)[gt if right else (gt + 1) % 10]
            samples.append(sample)
    evaluator = Evaluator([
        dict(type='TaskMetric', task='cls', benchmark=name,
             metric=dict(type='Accuracy', topk=1, prefix=f'{name}_acc'))
        for name in ('cifar10', 'fashion_mnist')])
    evaluator.process(samples)
    assert evaluator.evaluate(len(samples)) == {
        'cifar10_acc/top1': 100.0, 'fashion_mnist_acc/top1': 0.0}
