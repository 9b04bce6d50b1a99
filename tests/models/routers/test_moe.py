import torch

from llava_detseg.models.routers import NoisyTopKGate


def test_top_k_selects_exactly_k_and_weights_sum_to_one():
    torch.manual_seed(0)
    for k in (1, 2, 3):
        gate = NoisyTopKGate(16, num_experts=5, top_k=k, noise_std=1.0)
        gate.train()
        out = gate(torch.randn(50, 16))
        assert (out.dispatch.sum(-1) == k).all()
        assert ((out.weights > 0).sum(-1) == k).all()
        assert torch.allclose(out.weights.sum(-1), torch.ones(50))
        assert torch.allclose(out.probs.sum(-1), torch.ones(50))
        # weights live only on dispatched experts
        assert (out.weights[out.dispatch == 0] == 0).all()


def test_noise_only_in_training():
    torch.manual_seed(0)
    gate = NoisyTopKGate(8, num_experts=4, top_k=1, noise_std=5.0)
    x = torch.randn(64, 8)
    gate.eval()
    a, b = gate(x), gate(x)
    assert torch.equal(a.weights, b.weights)
    gate.train()
    c = gate(x)
    assert not torch.equal(a.dispatch, c.dispatch)


def test_gradient_reaches_gate_parameters():
    gate = NoisyTopKGate(8, num_experts=4, top_k=2, cond_dims=3)
    out = gate(torch.randn(10, 8), torch.randn(10, 3))
    (out.weights * torch.randn(10, 4)).sum().backward()
    assert gate.proj.weight.grad.abs().sum() > 0
    assert gate.cond.weight.grad.abs().sum() > 0
