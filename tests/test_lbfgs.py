"""optim.LBFGS: convergence on Rosenbrock and least squares without torch, and the same
iterates as torch.optim.LBFGS (float64, with and without the strong-Wolfe line search)
when torch is installed; state carried across step() calls; argument errors."""
import numpy as np
import pytest

import nn_core as nc
from nn_core import nn, optim


def rosenbrock(lib, x):
    return ((1 - x[:-1]) ** 2).sum() + 100 * ((x[1:] - x[:-1] ** 2) ** 2).sum()


def run_rosenbrock(lib, make_opt, x0, steps):
    x = lib.nn.Parameter(lib.tensor(x0.copy()))
    opt = make_opt(lib, [x])
    losses = []

    def closure():
        opt.zero_grad()
        loss = rosenbrock(lib, x)
        loss.backward()
        return loss

    for _ in range(steps):
        losses.append(float(opt.step(closure).detach()))
    return x.detach().numpy().copy(), losses, opt


@pytest.mark.parametrize("line_search", [None, "strong_wolfe"])
def test_rosenbrock_converges(line_search):
    x0 = np.array([-1.2, 1.0, -0.5, 0.8, 1.3])
    make = lambda lib, ps: lib.optim.LBFGS(ps, lr=1 if line_search else 0.2, max_iter=50, history_size=10,
                                           line_search_fn=line_search)
    x, losses, opt = run_rosenbrock(nc, make, x0, 20 if line_search else 60)
    # it stops on tolerance_change (loss steps below 1e-9), about 1e-10 from the minimum at (1, ..., 1)
    assert losses[-1] < 1e-9 < losses[0]
    np.testing.assert_allclose(x, np.ones(5), atol=1e-4)
    state = opt.state[opt.param_groups[0]["params"][0]]
    assert state["n_iter"] > 0 and state["func_evals"] >= state["n_iter"]
    assert len(state["old_dirs"]) <= 10


def test_least_squares_module_float32():
    rng = np.random.default_rng(0)
    a, w_true = rng.standard_normal((64, 6)).astype(np.float32), rng.standard_normal((6, 1)).astype(np.float32)
    b = a @ w_true
    model = nn.Linear(6, 1, bias=False)
    opt = optim.LBFGS(model.parameters(), line_search_fn="strong_wolfe")
    xa, xb = nc.tensor(a), nc.tensor(b)

    def closure():
        opt.zero_grad()
        loss = ((model(xa) - xb) ** 2).mean()
        loss.backward()
        return loss

    for _ in range(3):
        opt.step(closure)
    np.testing.assert_allclose(model.weight.detach().numpy().T, w_true, atol=1e-4)


@pytest.mark.parametrize("line_search,lr", [(None, 0.1), ("strong_wolfe", 1.0)])
def test_same_iterates_as_torch(line_search, lr):
    torch = pytest.importorskip("torch")
    x0 = np.array([-1.2, 1.0, -0.5, 0.8, 1.3, 0.2, -0.7])
    make = lambda lib, ps: lib.optim.LBFGS(ps, lr=lr, max_iter=7, history_size=4, line_search_fn=line_search)
    ours, our_losses, opt = run_rosenbrock(nc, make, x0, 4)
    theirs, their_losses, topt = run_rosenbrock(torch, make, x0, 4)
    np.testing.assert_allclose(our_losses, their_losses, rtol=1e-9)
    np.testing.assert_allclose(ours, theirs, rtol=1e-8, atol=1e-10)
    ts = topt.state[topt.param_groups[0]["params"][0]]
    s = opt.state[opt.param_groups[0]["params"][0]]
    assert (s["func_evals"], s["n_iter"]) == (ts["func_evals"], ts["n_iter"])


def test_errors():
    p = nn.Parameter(nc.ones(3))
    opt = optim.LBFGS([p])
    with pytest.raises(RuntimeError, match="closure"):
        opt.step()
    with pytest.raises(ValueError, match="parameter groups"):
        opt.add_param_group({"params": [nn.Parameter(nc.ones(2))]})
    with pytest.raises(ValueError, match="parameter groups"):
        optim.LBFGS([{"params": [p]}, {"params": [nn.Parameter(nc.ones(1))]}])
    with pytest.raises(TypeError, match="one float dtype"):
        optim.LBFGS([p, nn.Parameter(nc.ones(2, dtype=nc.float64))])


def test_zero_gradient_stops_at_once():
    p = nn.Parameter(nc.zeros(3))
    opt = optim.LBFGS([p])
    calls = []

    def closure():
        calls.append(1)
        opt.zero_grad()
        loss = (p * p).sum()
        loss.backward()
        return loss

    assert float(opt.step(closure)) == 0.0 and len(calls) == 1
    np.testing.assert_array_equal(p.detach().numpy(), np.zeros(3))
