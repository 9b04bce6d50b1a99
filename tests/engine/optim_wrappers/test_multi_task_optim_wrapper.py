"""PCGrad and GradNorm reduce to the plain weighted sum where they should."""
import pytest
import torch
from torch import nn

from llava_detseg.engine.optim_wrappers import (GradNormOptimWrapper,
                                                PCGradOptimWrapper)
from llava_detseg.models.losses import group_task_losses
from llava_detseg.registry import OPTIM_WRAPPERS


class TwoTasks(nn.Module):
    """A shared layer and one head per task, like the trunk and branches."""

    def __init__(self, aligned: bool = False):
        super().__init__()
        torch.manual_seed(0)
        self.shared = nn.Linear(4, 4)
        self.det = nn.Linear(4, 1)
        self.seg = nn.Linear(4, 1)
        if aligned:  # same head: the task gradients are parallel
            self.seg.load_state_dict(self.det.state_dict())

    def losses(self, x, det_target, seg_target):
        h = self.shared(x)
        return {
            'det.loss_a': (self.det(h) - det_target).pow(2).mean(),
            'seg.loss_b': 2.0 * (self.seg(h) - seg_target).pow(2).mean(),
            'adapters.loss_l2': 1e-2 * self.shared.weight.pow(2).sum(),
        }


def _total(losses):
    loss = sum(losses.values())
    loss.task_losses = group_task_losses(losses)
    return loss


def _plain_sum_step(x, t1, t2, lr=0.1, aligned=False):
    model = TwoTasks(aligned)
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    opt.zero_grad()
    sum(model.losses(x, t1, t2).values()).backward()
    opt.step()
    return model


def _wrapper_step(cls, x, t1, t2, lr=0.1, aligned=False, **kwargs):
    model = TwoTasks(aligned)
    wrapper = cls(optimizer=torch.optim.SGD(model.parameters(), lr=lr),
                  **kwargs)
    wrapper.update_params(_total(model.losses(x, t1, t2)))
    return model, wrapper


def _same(a, b):
    for pa, pb in zip(a.parameters(), b.parameters()):
        torch.testing.assert_close(pa, pb, rtol=1e-6, atol=1e-7)


def test_pcgrad_without_conflict_is_the_plain_sum():
    g = torch.Generator().manual_seed(0)
    x, target = torch.randn(8, 4, generator=g), torch.randn(8, 1, generator=g)
    # same head, same target: seg's gradient is 2x det's, no conflict
    model, _ = _wrapper_step(PCGradOptimWrapper, x, target, target,
                             aligned=True)
    _same(model, _plain_sum_step(x, target, target, aligned=True))


def test_pcgrad_removes_the_conflicting_component():
    g = torch.Generator().manual_seed(0)
    x, target = torch.randn(8, 4, generator=g), torch.randn(8, 1, generator=g)
    model = TwoTasks()
    losses = model.losses(x, target, -10 * target)
    params = list(model.parameters())
    g = {t: torch.cat([
        torch.zeros_like(p).flatten() if gi is None else gi.flatten()
        for p, gi in zip(params, torch.autograd.grad(
            losses[k], params, retain_graph=True, allow_unused=True))])
        for t, k in (('det', 'det.loss_a'), ('seg', 'seg.loss_b'))}
    assert torch.dot(g['det'], g['seg']) < 0, 'the test needs a conflict'
    wrapper = PCGradOptimWrapper(
        optimizer=torch.optim.SGD(model.parameters(), lr=0.0))
    combined = torch.cat([x.flatten() for x in wrapper.combine(
        {t: [v.view(-1)] for t, v in g.items()}, {})])
    # each projected task gradient is orthogonal to the other task's, so
    # the sum no longer points against either task
    assert torch.dot(combined, g['det']) >= -1e-6
    assert torch.dot(combined, g['seg']) >= -1e-6
    assert not torch.allclose(combined, g['det'] + g['seg'])


def test_gradnorm_first_step_is_the_plain_sum_then_weights_move():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(8, 4, generator=g)
    t1, t2 = torch.randn(8, 1, generator=g), 5 * torch.randn(
        8, 1, generator=g)
    model, wrapper = _wrapper_step(GradNormOptimWrapper, x, t1, t2,
                                   weight_lr=0.05)
    _same(model, _plain_sum_step(x, t1, t2))
    weights = wrapper.task_weights
    assert set(weights) == {'det', 'seg'}
    assert sum(weights.values()) == pytest.approx(2.0)
    assert weights['det'] != pytest.approx(1.0)
    # the weights survive a checkpoint
    state = wrapper.state_dict()
    other = GradNormOptimWrapper(
        optimizer=torch.optim.SGD(TwoTasks().parameters(), lr=0.1))
    other.load_state_dict(state)
    assert other.task_weights == weights


def test_gradient_accumulation_matches_the_plain_wrapper():
    from mmengine.optim import OptimWrapper
    g = torch.Generator().manual_seed(0)
    x, target = torch.randn(8, 4, generator=g), torch.randn(8, 1, generator=g)
    models = []
    for cls in (OptimWrapper, PCGradOptimWrapper):
        model = TwoTasks(aligned=True)  # no conflict: equal sums
        wrapper = cls(optimizer=torch.optim.SGD(model.parameters(), lr=0.1),
                      accumulative_counts=2)
        wrapper.initialize_count_status(model, 0, 2)
        for half in (x[:4], x[4:]):
            wrapper.update_params(_total(model.losses(half, target[:4],
                                                      target[:4])))
        models.append(model)
    _same(*models)


def test_a_loss_without_task_losses_is_a_clear_error():
    model = TwoTasks()
    wrapper = PCGradOptimWrapper(
        optimizer=torch.optim.SGD(model.parameters(), lr=0.1))
    with pytest.raises(RuntimeError, match='task_losses'):
        wrapper.update_params(sum(model.losses(
            torch.randn(2, 4), torch.zeros(2, 1), torch.zeros(2, 1)).values()))


def test_registered():
    for name in ('PCGradOptimWrapper', 'GradNormOptimWrapper'):
        assert OPTIM_WRAPPERS.get(name) is not None


def test_train_step_of_the_model_feeds_the_wrapper(cfg):
    # the same path serves GradNorm: loss.task_losses into update_params
    cls = PCGradOptimWrapper
    import copy as _copy

    from mmengine.config import Config
    from mmengine.registry import init_default_scope

    from conftest import ROOT
    from llava_detseg.models.adapters import adapter_parameters
    from llava_detseg.registry import DATASETS, MODELS
    init_default_scope('llava_detseg')
    cfg.model.adapters = Config.fromfile(
        f'{ROOT}/configs/_base_/models/lora_adapters.py').lora_adapters
    model = MODELS.build(cfg.model)
    dataset = DATASETS.build(cfg.train_dataloader.dataset)
    data = dict(inputs=[dataset[i]['inputs'] for i in range(2)],
                data_samples=[dataset[i]['data_samples'] for i in range(2)])
    wrapper = cls(optimizer=torch.optim.SGD(
        [p for p in model.parameters() if p.requires_grad], lr=0.1))
    before = {n: p.clone() for n, p in adapter_parameters(model).items()}
    log_vars = model.train_step(_copy.deepcopy(data), wrapper)
    assert {'det.loss_cls', 'seg.loss_ce', 'vqa.loss_lm'} <= set(log_vars)
    moved = {n.split('.lora_')[1].split('.')[1]
             for n, p in adapter_parameters(model).items()
             if not torch.equal(p, before[n])}
    assert moved == {'shared', 'det', 'seg', 'vqa'}
