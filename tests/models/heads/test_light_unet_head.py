"""LightUNetHead: shapes, loss, the whole model with it, Conv-LoRA, mIoU."""
import copy
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

from conftest import ROOT
from llava_detseg.models.heads import LightUNetHead
from llava_detseg.registry import DATASETS, MODELS

FCN_ABLATION = osp.join(ROOT, 'configs', 'ablations', 'seg_head',
                        'seg-head_fcn.py')
LORA_BASE = osp.join(ROOT, 'configs', '_base_', 'models', 'lora_adapters.py')


def _head(**kwargs) -> LightUNetHead:
    init_default_scope('llava_detseg')
    args = dict(
        in_channels=[8, 8, 8, 8],
        channels=8,
        num_classes=4,
        dropout_ratio=0.0,
        norm_cfg=dict(type='GN', num_groups=4, requires_grad=True))
    args.update(kwargs)
    return LightUNetHead(**args)


def _pyramid(batch=2, size=64, channels=8):
    return [
        torch.randn(batch, channels, size // s, size // s)
        for s in (4, 8, 16, 32)
    ]


def test_logits_at_the_finest_level():
    head = _head()
    assert head(_pyramid()).shape == (2, 4, 16, 16)
    # three levels (in_index picks them from a four-level pyramid)
    head = _head(in_channels=[8, 8, 8], in_index=[1, 2, 3])
    assert head(_pyramid()).shape == (2, 4, 8, 8)


def test_every_level_reaches_the_logits():
    head = _head()
    feats = [f.requires_grad_() for f in _pyramid()]
    head(feats).sum().backward()
    for level, f in enumerate(feats):
        assert f.grad is not None and f.grad.abs().sum() > 0, level


def test_loss_against_a_label_map():
    head = _head()
    samples = []
    for _ in range(2):
        s = SegDataSample()
        s.gt_sem_seg = PixelData(data=torch.randint(0, 4, (1, 64, 64)))
        s.set_metainfo(dict(img_shape=(64, 64), pad_shape=(64, 64)))
        samples.append(s)
    losses = head.loss(_pyramid(), samples, None)
    assert losses['loss_ce'] > 0 and torch.isfinite(losses['loss_ce'])
    losses['loss_ce'].backward()
    assert all(p.grad is not None for p in head.parameters())


@pytest.mark.parametrize('bad, match', [
    (dict(input_transform='resize_concat'), 'input_transform'),
    (dict(in_channels=[8]), 'at least'),
    (dict(in_index=[0, 1]), 'one entry per'),
    (dict(num_convs=0), 'num_convs'),
    (dict(upsample_mode='bicubic'), 'upsample_mode'),
])
def test_bad_arguments_are_named(bad, match):
    with pytest.raises(ValueError, match=match):
        _head(**bad)


def _ablation(cfg):
    """The test config's model: the embedded default's U-Net seg head
    (its FCN ablation row builds mmseg's head on the same pyramid)."""
    fcn = Config.fromfile(FCN_ABLATION).model.seg_head
    assert fcn.type == 'mmseg.FCNHead'
    assert fcn.in_channels == cfg.model.seg_head.in_channels
    return copy.deepcopy(cfg.model)


def _batch(cfg, n=2, split='train'):
    dataset = DATASETS.build(cfg[f'{split}_dataloader'].dataset)
    items = [dataset[i] for i in range(n)]
    return dataset, dict(
        inputs=[x['inputs'] for x in items],
        data_samples=[x['data_samples'] for x in items])


def test_whole_model_trains_and_predicts_for_iou_metric(cfg):
    from mmengine.evaluator import Evaluator
    init_default_scope('llava_detseg')
    torch.manual_seed(0)
    model = MODELS.build(_ablation(cfg))
    model.init_weights()
    assert isinstance(model.seg_head, LightUNetHead)
    dataset, batch = _batch(cfg)
    data = model.data_preprocessor(copy.deepcopy(batch), training=True)
    losses = model(**data, mode='loss')
    assert {'seg.loss_ce', 'det.loss_cls', 'vqa.loss_lm'} <= set(losses)
    total, _ = model.parse_losses(losses)
    total.backward()
    assert model.seg_head.bottleneck.conv.weight.grad.abs().sum() > 0
    assert any(p.grad is not None and p.grad.abs().sum() > 0
               for p in model.neck.parameters())
    model.eval()
    seg_metric = [
        m for m in cfg.val_evaluator
        if m.get('task') == 'seg' and 'IoUMetric' in m.metric.type
    ]
    evaluator = Evaluator(seg_metric)
    evaluator.dataset_meta = dataset.metainfo
    dataset, batch = _batch(cfg, split='val')
    evaluator.dataset_meta = dataset.metainfo
    with torch.no_grad():
        outputs = model.test_step(copy.deepcopy(batch))
    assert outputs[0].pred_sem_seg.data.shape[-2:] == \
        outputs[0].gt_sem_seg.data.shape[-2:]
    evaluator.process(outputs, batch)
    metrics = evaluator.evaluate(len(outputs))
    assert 0.0 <= metrics['seg/mIoU'] <= 100.0


def test_conv_lora_wraps_every_conv_of_the_head(cfg):
    from peft.tuners.lora import Conv2d as LoraConv2d
    init_default_scope('llava_detseg')
    model_cfg = _ablation(cfg)
    plain = MODELS.build(copy.deepcopy(model_cfg))
    convs = [
        n for n, m in plain.seg_head.named_modules()
        if isinstance(m, torch.nn.Conv2d)
    ]
    # bottleneck + num_convs per stage (one fewer than levels) + the
    # classifier
    levels = len(model_cfg.seg_head.in_channels)
    per_stage = model_cfg.seg_head.num_convs
    assert len(convs) == 1 + (levels - 1) * per_stage + 1
    model_cfg.adapters = Config.fromfile(LORA_BASE).lora_adapters.to_dict()
    model = MODELS.build(model_cfg)
    model.init_weights()
    for name in convs:
        layer = model.seg_head.get_submodule(name)
        assert isinstance(layer, LoraConv2d), name
        assert layer.lora_A['seg'].kernel_size == \
            layer.get_base_layer().kernel_size
    _, batch = _batch(cfg)
    data = model.data_preprocessor(copy.deepcopy(batch), training=True)
    total, _ = model.parse_losses(model(**data, mode='loss'))
    total.backward()
    lora_b = [
        p for n, p in model.seg_head.named_parameters() if 'lora_B.seg' in n
    ]
    assert lora_b and all(p.grad is not None and p.grad.abs().sum() > 0
                          for p in lora_b)
    # only adapters train in the seg head
    assert not any(p.requires_grad
                   for n, p in model.seg_head.named_parameters()
                   if 'lora_' not in n)
