"""UncertaintyWeighting and the per-task grouping of losses."""
import torch

from llava_detseg.models.losses import (UncertaintyWeighting,
                                        group_task_losses)


def _losses():
    return {
        'det.loss_cls': torch.tensor(2.0),
        'det.loss_bbox': [torch.tensor(1.0), torch.tensor(0.5)],
        'seg.loss_ce': torch.tensor(3.0),
        'seg.acc_seg': torch.tensor(50.0),
        'vqa.loss_lm': torch.tensor(4.0),
        'adapters.loss_l2': torch.tensor(0.1),
    }


def _total(losses):
    return sum(sum(v) if isinstance(v, list) else v
               for k, v in losses.items() if 'loss' in k)


def test_group_task_losses():
    groups = group_task_losses(_losses())
    assert set(groups) == {'det', 'seg', 'vqa', ''}
    assert float(groups['det']) == 3.5
    assert float(groups['seg']) == 3.0  # acc_seg is not a loss
    assert float(groups['']) == float(torch.tensor(0.1))


def test_uncertainty_weighting_at_init_is_the_plain_sum():
    balancer = UncertaintyWeighting()
    out = balancer(_losses())
    torch.testing.assert_close(_total(out), _total(_losses()))


def test_uncertainty_weighting_learns_log_variances():
    balancer = UncertaintyWeighting(tasks=('det', 'seg'))
    with torch.no_grad():
        balancer.log_vars.copy_(torch.tensor([1.0, -1.0]))
    out = balancer(_losses())
    torch.testing.assert_close(out['det.loss_cls'],
                               torch.tensor(2.0) * torch.exp(torch.tensor(
                                   -1.0)))
    torch.testing.assert_close(out['seg.loss_ce'],
                               3.0 * torch.exp(torch.tensor(1.0)))
    assert float(out['det.loss_uncertainty']) == 1.0
    assert float(out['vqa.loss_lm']) == 4.0  # not a balanced task
    _total(out).backward()
    # d/ds (exp(-s) L + s) = 1 - exp(-s) L
    det_l = 3.5
    expected = 1 - torch.exp(torch.tensor(-1.0)) * det_l
    torch.testing.assert_close(balancer.log_vars.grad[0], expected)
