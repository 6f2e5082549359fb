import math

import pytest
import torch

from guneamp_lib.models import (
    SeedCNN, build_model, count_parameters, measure_receptive_field, seed_cnn_parameter_breakdown,
)


def test_seed_cnn_true_parameter_count():
    m = SeedCNN()
    # 1->32: 96+32, two 32->32: 3072+32 each, 32->1: 96+1
    assert m.num_parameters == 128 + 3104 + 3104 + 97 == 6433
    assert sum(n for _, n in seed_cnn_parameter_breakdown()) == m.num_parameters
    assert count_parameters(m) == m.num_parameters


def test_seed_cnn_shapes_and_layers():
    m = SeedCNN()
    assert [l.in_channels for l in m.layers] == [1, 32, 32, 32]
    assert [l.out_channels for l in m.layers] == [32, 32, 32, 1]
    assert [l.dilation[0] for l in m.layers] == [1, 2, 4, 1]
    assert m(torch.randn(5, 1, 300)).shape == (5, 1, 300)


@pytest.mark.parametrize("kwargs", [{}, {"dilations": (1, 2, 4, 8, 16)}, {"kernel_size": 5, "channels": 8}])
def test_receptive_field_matches_measurement(kwargs):
    torch.manual_seed(0)
    m = SeedCNN(**kwargs)
    assert measure_receptive_field(m) == m.receptive_field
    if not kwargs:
        assert m.receptive_field == 17


def test_causality_changing_input_at_t_never_changes_earlier_output():
    torch.manual_seed(1)
    m = SeedCNN().eval()
    x = torch.randn(1, 1, 500)
    x2 = x.clone()
    t = 321
    x2[..., t:] += torch.randn(500 - t)
    with torch.no_grad():
        y, y2 = m(x), m(x2)
    assert torch.equal(y[..., :t], y2[..., :t])
    assert not torch.allclose(y[..., t], y2[..., t])


def test_build_model_by_name_and_unknown_name():
    assert isinstance(build_model("seed_cnn"), SeedCNN)
    with pytest.raises(ValueError, match="unknown model"):
        build_model("nope")
