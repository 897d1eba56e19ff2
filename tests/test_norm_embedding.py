"""layer_norm / rms_norm / embedding / dropout beyond the op harness (tests/op_db_attention.py):
padding_idx gradients, the seeded dropout mask (statistics, reproducibility, backward
regenerating the same mask), half-type inputs, large rows, and error messages."""
import numpy as np
import pytest

import nn_core as nc
import nn_core.functional as F


def test_embedding_padding_row_gets_no_gradient(rng):
    w = nc.tensor(rng.normal(0, 1, (6, 3)), requires_grad=True)
    idx = nc.tensor(np.array([[1, 2, 1], [5, 1, 0]]))
    F.embedding(idx, w, padding_idx=-1).sum().backward()
    g = w.grad.numpy()
    np.testing.assert_array_equal(g[:, 0], [1, 3, 1, 0, 0, 0])  # row 5 (= -1) is padding
    with pytest.raises(IndexError, match="embedding.*out of range"):
        F.embedding(nc.tensor(np.array([6])), w)
    with pytest.raises(TypeError, match="embedding.*integer"):
        F.embedding(nc.tensor(np.array([1.0])), w)


def test_dropout_is_seeded_and_backward_uses_the_same_mask():
    x = nc.ones(100_000, requires_grad=True)
    nc.manual_seed(3)
    y = F.dropout(x, 0.25)
    kept = y.detach().numpy() != 0
    assert abs(kept.mean() - 0.75) < 0.01
    np.testing.assert_allclose(y.detach().numpy()[kept], 1 / 0.75, rtol=1e-6)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy() != 0, kept)
    nc.manual_seed(3)
    assert np.array_equal(F.dropout(x, 0.25).detach().numpy(), y.detach().numpy())
    assert not np.array_equal(F.dropout(x, 0.25).detach().numpy(), y.detach().numpy())  # generator advanced
    before = nc.get_num_threads()
    try:
        for threads in (1, 2):  # counter-based: the same numbers on any thread count
            nc.set_num_threads(threads)
            nc.manual_seed(3)
            assert np.array_equal(F.dropout(x, 0.25).detach().numpy(), y.detach().numpy())
    finally:
        nc.set_num_threads(before)


def test_layer_norm_large_rows_and_bfloat16(rng):
    x = rng.normal(3, 2, (5, 4099))
    w, b = rng.normal(0, 1, 4099), rng.normal(0, 1, 4099)
    want = (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + 1e-5) * w + b
    got = F.layer_norm(nc.tensor(x, dtype=nc.float32), 4099, nc.tensor(w, dtype=nc.float32),
                       nc.tensor(b, dtype=nc.float32))
    np.testing.assert_allclose(got.numpy(), want, atol=2e-5 * np.abs(want).max())
    gb = F.layer_norm(nc.tensor(x, dtype=nc.bfloat16), [4099])
    assert gb.dtype == nc.bfloat16 and np.isfinite(gb.to(nc.float32).numpy()).all()


def test_rms_norm_backward_matches_reference(rng):
    x = nc.tensor(rng.normal(0, 1, (3, 4, 5)), requires_grad=True)
    w = nc.tensor(rng.normal(0, 1, (4, 5)), requires_grad=True)
    assert nc.autograd.gradcheck(lambda x, w: F.rms_norm(x, [4, 5], w, eps=1e-3), [x, w])
    assert nc.autograd.gradcheck(lambda x, w: F.layer_norm(x, [5], w[0], w[1]), [x, w])


def test_norm_errors():
    with pytest.raises(ValueError, match="layer_norm.*does not end with normalized_shape"):
        F.layer_norm(nc.randn(2, 3), [4])
    with pytest.raises(ValueError, match="rms_norm.*weight"):
        F.rms_norm(nc.randn(2, 3), [3], nc.randn(4))
    with pytest.raises(ValueError, match="dropout: p"):
        F.dropout(nc.randn(3), 1.5)
