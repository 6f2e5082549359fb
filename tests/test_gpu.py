"""GPU checks: skipped cleanly where no CUDA device is present."""

import pytest
import torch

from guneamp_lib.render.inference import process
from guneamp_lib.models import build_model
from guneamp_lib.runtime import pick_device

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU")]


@pytest.fixture(autouse=True)
def full_float32():
    """cuDNN convolutions run in TF32 by default on Ampere and later GPUs (10-bit
    mantissa: errors ~1e-3, beyond these tests' float32 tolerances); compare in float32."""
    saved = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    yield
    torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = saved


def test_auto_device_picks_cuda():
    assert pick_device("auto").type == "cuda"


@pytest.mark.parametrize("name", ["seed_cnn", "wavenet", "lstm"])
def test_gpu_inference_matches_cpu(name):
    torch.manual_seed(0)
    model = build_model(name).eval()
    x = torch.randn(20000) * 0.3
    cpu = process(model, x, chunk=5000)
    gpu = process(model.to("cuda"), x, chunk=5000)
    assert (cpu - gpu).abs().max().item() < 1e-4


def test_gpu_training_step_matches_cpu():
    from guneamp_lib.training.losses import design_loss

    torch.manual_seed(0)
    model = build_model("seed_cnn")
    x, y = torch.randn(4, 1, 4096), torch.randn(4, 1, 4096)
    grads = []
    for dev in ("cpu", "cuda"):
        m = build_model("seed_cnn")
        m.load_state_dict(model.state_dict())
        m.to(dev)
        loss = design_loss(m(x.to(dev)), y.to(dev))
        loss.backward()
        grads.append(torch.cat([p.grad.flatten().cpu() for p in m.parameters()]))
    assert torch.allclose(grads[0], grads[1], rtol=1e-3, atol=1e-5)
