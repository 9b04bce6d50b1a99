"""TaskDistiller: answer KL toward the adapter-free model, det/seg teacher."""
import copy

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.runner import save_checkpoint

from llava_detseg.models.adapters import adapter_group, adapter_parameters
from llava_detseg.models.losses.distillation import (binary_kl_logits,
                                                     kl_div_logits)
from llava_detseg.registry import DATASETS, MODELS

LORA_BASE = 'configs/_base_/models/lora_adapters.py'


def test_kl_is_zero_for_equal_logits_and_positive_otherwise():
    a = torch.randn(5, 7)
    assert float(kl_div_logits(a, a, 2.0)) == pytest.approx(0, abs=1e-6)
    assert float(kl_div_logits(a, a.flip(0), 2.0)) > 0
    assert float(binary_kl_logits(a, a, 1.0)) == pytest.approx(0, abs=1e-6)
    assert float(binary_kl_logits(a, -a, 1.0)) > 0


def _setup(cfg, tmp_path, distiller):
    from conftest import ROOT
    init_default_scope('llava_detseg')
    adapters = Config.fromfile(f'{ROOT}/{LORA_BASE}').lora_adapters
    cfg.model.adapters = adapters
    torch.manual_seed(0)
    teacher = MODELS.build(copy.deepcopy(cfg.model))
    ckpt = str(tmp_path / 'teacher.pth')
    save_checkpoint(teacher.state_dict(), ckpt)
    cfg_file = str(tmp_path / 'teacher_cfg.py')
    cfg.dump(cfg_file)
    cfg.model.distiller = dict(distiller, teacher_config=cfg_file,
                               teacher_ckpt=ckpt)
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.load_state_dict(teacher.state_dict())
    dataset = DATASETS.build(cfg.train_dataloader.dataset)
    batch = dict(inputs=[dataset[i]['inputs'] for i in range(2)],
                 data_samples=[dataset[i]['data_samples'] for i in range(2)])
    return model, model.data_preprocessor(batch, training=True)


def test_distillation_losses_start_at_zero_and_train_adapters_only(
        cfg, tmp_path):
    model, data = _setup(
        cfg, tmp_path,
        dict(type='TaskDistiller', vqa_weight=1.0, det_weight=1.0,
             seg_weight=1.0, temperature=2.0))
    # the teacher is outside the module tree: neither saved nor trained
    assert not any(k.startswith('distiller.teacher')
                   for k in model.state_dict())
    losses = model(**copy.deepcopy(data), mode='loss')
    for key in ('vqa.loss_kd', 'det.loss_kd', 'seg.loss_kd'):
        # adapters start as the identity: student == both teachers
        assert float(losses[key]) == pytest.approx(0, abs=1e-5), key
    assert 'vqa.loss_lm' in losses
    with torch.no_grad():
        for name, p in adapter_parameters(model).items():
            if 'lora_B' in name:
                p.normal_(0, 0.05)
    losses = model(**copy.deepcopy(data), mode='loss')
    for key in ('vqa.loss_kd', 'det.loss_kd', 'seg.loss_kd'):
        assert float(losses[key]) > 1e-6, key
    losses['vqa.loss_kd'].backward()
    reached = {adapter_group(n) for n, p in model.named_parameters()
               if p.grad is not None and p.grad.abs().sum() > 0}
    assert reached == {'shared', 'vqa'}
    # the teacher pass ran with adapters disabled and left them enabled
    assert all(not m.disable_adapters for m in model.modules()
               if hasattr(m, 'lora_A'))


def test_dense_distillation_needs_a_teacher(cfg):
    init_default_scope('llava_detseg')
    with pytest.raises(ValueError, match='teacher_config'):
        MODELS.build(dict(type='TaskDistiller', det_weight=1.0))


def test_a_teacher_checkpoint_that_does_not_fit_is_named(cfg, tmp_path):
    """mmengine's strict=False would leave such a teacher random, silently;
    a missing or mis-shaped weight outside the dropped language branch is
    an error naming both files."""
    from conftest import ROOT
    init_default_scope('llava_detseg')
    cfg.model.adapters = Config.fromfile(f'{ROOT}/{LORA_BASE}').lora_adapters
    torch.manual_seed(0)
    state = MODELS.build(copy.deepcopy(cfg.model)).state_dict()
    cfg_file = str(tmp_path / 'teacher_cfg.py')
    cfg.dump(cfg_file)
    head = next(k for k in state if k.startswith('det_head.'))
    for name, edit in (('missing', lambda s: s.pop(head)),
                       ('mis-shaped', lambda s: s.update(
                           {head: torch.zeros(3)}))):
        broken = dict(state)
        edit(broken)
        ckpt = str(tmp_path / f'{name}.pth')
        save_checkpoint(broken, ckpt)
        with pytest.raises(ValueError) as err:
            MODELS.build(dict(type='TaskDistiller', det_weight=1.0,
                              teacher_config=cfg_file, teacher_ckpt=ckpt))
        msg = str(err.value)
        assert f'1 {name} weights (e.g. {head})' in msg
        assert ckpt in msg and cfg_file in msg
    # the language branch's weights are not needed: no error without them
    ckpt = str(tmp_path / 'no_language.pth')
    save_checkpoint({k: v for k, v in state.items()
                     if not k.startswith('language.')}, ckpt)
    MODELS.build(dict(type='TaskDistiller', det_weight=1.0,
                      teacher_config=cfg_file, teacher_ckpt=ckpt))
