"""The CPU tanh through sigmoid: the same function and gradient as torch.tanh."""

import torch

from guneamp_lib.dsp.activations import tanh


def test_values_match_torch_tanh_everywhere():
    x = torch.cat([torch.linspace(-30, 30, 200001), torch.tensor([0.0, -0.0, 1e-30, float("inf"), float("-inf")])])
    exact = torch.tanh(x.double())
    assert (tanh(x).double() - exact).abs().max().item() < 2.5e-7
    assert tanh(torch.tensor([float("nan")])).isnan().all()
    assert tanh(x.double()).dtype == torch.float64
    assert (tanh(x.double()) - exact).abs().max().item() < 1e-15


def test_gradient_matches_torch_tanh_and_input_is_untouched():
    torch.manual_seed(0)
    x = (3 * torch.randn(4, 8, 500)).requires_grad_()
    before = x.detach().clone()
    g = torch.randn(4, 8, 500)
    (gx,) = torch.autograd.grad(tanh(x), x, g)
    (gt,) = torch.autograd.grad(torch.tanh(x), x, g)
    assert torch.allclose(gx, gt, atol=1e-6)
    assert torch.equal(x.detach(), before)


def test_no_grad_path_leaves_its_input_alone():
    x = torch.randn(1000)
    before = x.clone()
    with torch.no_grad():
        y = tanh(x)
    assert torch.equal(x, before) and torch.allclose(y, torch.tanh(x), atol=2.5e-7)
