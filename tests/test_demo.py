"""The digits demo end to end (skipped without scikit-learn): the model reaches >= 97%
test accuracy on the fixed 80/20 split with a fixed seed; training is bitwise
deterministic for a seed, run twice with 1 thread and twice with 2 threads, and equal
across the two thread counts; ``python -m nn_core.demo`` prints the evaluation and writes the PNG."""

import numpy as np
import pytest

import nn_core as nc
from child_process import child_env, run_python

pytest.importorskip("sklearn")
from nn_core import demo  # noqa: E402


@pytest.fixture
def threads():
    old = nc.get_num_threads()
    yield nc.set_num_threads
    nc.set_num_threads(old)


def test_split_is_fixed_and_stratified():
    x_tr, y_tr, x_te, y_te = demo.load_digits_split()
    assert x_tr.shape == (1437, 1, 8, 8) and x_te.shape == (360, 1, 8, 8)
    assert x_tr.dtype == nc.float32 and y_tr.dtype == nc.int64
    assert 0.0 <= x_tr.numpy().min() and x_tr.numpy().max() <= 1.0
    assert np.bincount(y_te.numpy()).min() >= 35
    again = demo.load_digits_split()
    assert np.array_equal(again[3].numpy(), y_te.numpy())


def test_digits_reaches_97_percent(threads):
    threads(1)
    result = demo.train(epochs=12, seed=0, progress=False)
    print(f"{result.model_name}: test accuracy {result.test_accuracy:.4f}, ECE {result.ece:.4f}")
    assert result.test_accuracy >= 0.97
    assert result.confusion.sum() == 360 and np.trace(result.confusion) == round(result.test_accuracy * 360)
    assert 0.0 <= result.ece < 0.1
    assert result.epoch_loss[-1] < result.epoch_loss[0] / 5


def losses(n_threads, threads):
    threads(n_threads)
    return np.array(demo.train(epochs=1, seed=11, progress=False).step_losses)


@pytest.mark.parametrize("n_threads", [1, 2])
def test_same_seed_gives_bitwise_identical_losses(n_threads, threads):
    a, b = losses(n_threads, threads), losses(n_threads, threads)
    assert len(a) == 23
    assert np.array_equal(a, b), f"first differing step: {np.nonzero(a != b)[0][:1]}"


def first_batch_grads(n_threads, threads):
    """Gradients of every parameter after one forward/backward on the first 64 images."""
    threads(n_threads)
    nc.manual_seed(0)
    model = demo.DigitsCNN() if demo.has_conv() else demo.digits_mlp()
    x, y, _, _ = demo.load_digits_split()
    nc.functional.cross_entropy(model(x[:64]), y[:64]).backward()
    return {name: p.grad.numpy().copy() for name, p in model.named_parameters()}


def test_losses_do_not_depend_on_the_thread_count(threads):
    """Linear, activations, losses, reductions and the optimizer kernels split work by output
    (GEMM by output tiles, reductions per output element, elementwise and optimizer kernels
    by range), and conv2d's weight gradient sums fixed image blocks in order, so no sum
    changes order with the thread count: the losses are bitwise equal for 1 and 2 threads. When they differ, the message names the parameters
    whose gradient already differs after one step (the op that breaks it)."""
    a, b = losses(1, threads), losses(2, threads)
    if np.array_equal(a, b):
        return
    g1, g2 = first_batch_grads(1, threads), first_batch_grads(2, threads)
    culprits = [f"{k} (max diff {np.abs(g1[k] - g2[k]).max():.2g})" for k in g1 if not np.array_equal(g1[k], g2[k])]
    message = (f"losses for 1 and 2 threads first differ at step {np.nonzero(a != b)[0][0]}; gradients that differ "
               f"after one step: {', '.join(culprits) or 'none'}")
    raise AssertionError(message)


def test_demo_command_line(tmp_path):
    pytest.importorskip("matplotlib")
    png = tmp_path / "curves.png"
    proc = run_python(["-m", "nn_core.demo", "--epochs", "2", "--no-progress", "--threads", "1", "--out", str(png)],
                      env=child_env(MPLBACKEND="Agg"), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "test accuracy:" in out and "expected calibration error" in out and "confusion matrix" in out
    if not demo.has_conv():
        assert "MLP fallback" in out
    assert png.exists() and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
