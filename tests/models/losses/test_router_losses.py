import torch

from llava_detseg.models.losses import (LoadBalanceLoss, RouterZLoss,
                                        load_balance_kl, load_balance_switch,
                                        router_z_loss)


def _dispatch(probs, k=1):
    idx = probs.topk(k, -1).indices
    return torch.zeros_like(probs).scatter(-1, idx, 1.0)


def test_kl_balance_is_minimal_for_uniform_usage():
    torch.manual_seed(0)
    e = 4
    uniform = torch.full((32, e), 1.0 / e)
    assert load_balance_kl(uniform).abs() < 1e-6
    for _ in range(5):
        probs = torch.randn(32, e).mul(3).softmax(-1)
        assert load_balance_kl(probs) > load_balance_kl(uniform)
    # one expert taking everything is the maximum, log(E)
    collapsed = torch.zeros(32, e)
    collapsed[:, 0] = 1
    assert torch.isclose(load_balance_kl(collapsed),
                         torch.tensor(e).log().float(), atol=1e-5)


def test_switch_balance_is_one_at_balance_and_larger_when_collapsed():
    e = 4
    # tokens spread evenly over the experts, confident gates
    probs = torch.eye(e).repeat(8, 1) * 0.7 + 0.3 / e
    assert torch.isclose(load_balance_switch(probs, _dispatch(probs)),
                         torch.tensor(1.0), atol=1e-5)
    collapsed = torch.zeros(32, e)
    collapsed[:, 0] = 1
    assert load_balance_switch(collapsed, _dispatch(collapsed)) > 3.9


def test_z_loss_grows_with_logit_scale_and_weights_apply():
    logits = torch.randn(16, 4)
    assert router_z_loss(10 * logits) > router_z_loss(logits)
    assert torch.isclose(
        RouterZLoss(loss_weight=0.5)(logits), 0.5 * router_z_loss(logits))
    probs = torch.randn(16, 4).softmax(-1)
    assert torch.isclose(
        LoadBalanceLoss('kl', loss_weight=2.0)(probs, _dispatch(probs)),
        2 * load_balance_kl(probs))


def test_balance_gradient_pushes_towards_uniform():
    logits = torch.tensor([[2.0, 0.0, 0.0, 0.0]] * 8, requires_grad=True)
    load_balance_kl(logits.softmax(-1)).backward()
    # lowering the over-used expert's logit lowers the loss
    assert (logits.grad[:, 0] > 0).all()
