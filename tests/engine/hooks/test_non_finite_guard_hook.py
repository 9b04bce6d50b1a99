import os.path as osp
import re

import pytest
import torch
from toy_runner import FaultAt, toy_runner

import llava_detseg.engine  # noqa: F401 (registers the hooks)
from llava_detseg.engine import NonFiniteError, TrainingStopped
from llava_detseg.engine.hooks import NonFiniteGuardHook


class _Snapshot(FaultAt):
    """Remembers the weights before each iteration."""

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        super().before_train_iter(runner, batch_idx, data_batch)
        self.before = {k: v.clone()
                       for k, v in runner.model.state_dict().items()}


def _weights(runner):
    return {k: v.clone() for k, v in runner.model.state_dict().items()}


@pytest.mark.parametrize('fault,what', [
    ('nan_loss', r'non-finite loss at epoch 2, iter 6 \(loss=nan\): '),
    ('inf_grad', r'non-finite gradient norm \((nan|inf)\) at epoch 2, iter 6 '
     'with a finite loss: '),
])
def test_stops_at_the_iteration_and_the_step_is_dropped(tmp_path, fault,
                                                        what):
    snap = _Snapshot(fault, [6])
    runner = toy_runner(tmp_path, max_epochs=3,
                        custom_hooks=[snap, NonFiniteGuardHook()])
    with pytest.raises(NonFiniteError) as info:
        runner.train()
    message = str(info.value)
    assert isinstance(info.value, TrainingStopped)
    assert re.match(what, message), message
    assert '\n' not in message
    # the guard stopped before the checkpoint hook could save epoch 2 and it
    # names the last checkpoint, which --resume continues from
    assert osp.join(str(tmp_path), 'epoch_1.pth') in message
    assert not osp.exists(osp.join(str(tmp_path), 'epoch_2.pth'))
    # the NaN / inf gradients were dropped: no step, the weights unchanged
    after = _weights(runner)
    for key, value in snap.before.items():
        assert torch.equal(value, after[key]), key
    assert all(bool(torch.isfinite(v).all()) for v in after.values())


def test_without_the_guard_the_same_fault_reaches_the_weights(tmp_path):
    # the control of the test above: the fault is real
    runner = toy_runner(tmp_path, max_epochs=1,
                        custom_hooks=[FaultAt('inf_grad', [2])])
    runner.train()
    weights = _weights(runner)
    assert not all(bool(torch.isfinite(v).all()) for v in weights.values())


def test_a_finite_run_is_untouched(tmp_path):
    plain = toy_runner(tmp_path / 'plain', max_epochs=1)
    plain.train()
    guarded = toy_runner(tmp_path / 'guarded', max_epochs=1,
                         custom_hooks=[NonFiniteGuardHook()])
    guarded.train()
    a, b = _weights(plain), _weights(guarded)
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_interval_and_grad_check_options(tmp_path):
    with pytest.raises(ValueError, match='interval'):
        NonFiniteGuardHook(interval=0)
    # only the loss is checked: a finite loss with an inf gradient in the
    # last iteration passes
    runner = toy_runner(
        tmp_path, max_epochs=1,
        custom_hooks=[FaultAt('inf_grad', [4]),
                      NonFiniteGuardHook(check_grad_norm=False)])
    runner.train()
    # checked every 2nd iteration: a NaN loss at iteration 3 took its step
    # unchecked, and the NaN weights stop the run at iteration 4
    runner = toy_runner(
        tmp_path / 'every2', max_epochs=1,
        custom_hooks=[FaultAt('nan_loss', [3]),
                      NonFiniteGuardHook(interval=2)])
    with pytest.raises(NonFiniteError, match='epoch 1, iter 4'):
        runner.train()


def test_grad_norm_is_float32_so_large_fp16_gradients_are_no_alarm():
    from llava_detseg.engine.hooks.non_finite_guard_hook import _grad_norm
    p = torch.nn.Parameter(torch.zeros(10**6, dtype=torch.float16))
    opt = torch.optim.SGD([p], lr=0.1)
    p.grad = torch.full_like(p, 100.)  # fp16 L2 norm: inf; float32: 1e5
    assert abs(_grad_norm(opt) / 1e5 - 1) < 1e-2
    p.grad[7] = float('nan')
    assert _grad_norm(opt) != _grad_norm(opt)  # NaN
