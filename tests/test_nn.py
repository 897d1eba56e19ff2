"""Modules: Linear against numpy (values and gradients), activations, Flatten, Dropout,
init statistics and formulas, parameter/buffer traversal, train/eval, to(dtype),
zero_grad, apply, hooks, repr, state_dict round trips, strict-mode errors listing
missing / unexpected / mismatched keys, loading from numpy dicts and from torch.nn."""
import math

import numpy as np
import pytest

import nn_core as nc
from nn_core import functional as F
from nn_core import nn

gradcheck = nc.autograd.gradcheck


def mlp(seed=0):
    nc.manual_seed(seed)
    return nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 8), nn.Tanh(), nn.Linear(8, 3))


# ---- Linear and activations ----------------------------------------------------------------
@pytest.mark.parametrize("shape", [(5, 7), (7,), (2, 3, 7), (1, 7), (0, 7)])
@pytest.mark.parametrize("bias", [True, False])
def test_linear_matches_numpy(shape, bias, rng):
    lin = nn.Linear(7, 4, bias=bias)
    x = rng.standard_normal(shape).astype(np.float32)
    w = lin.weight.detach().numpy()
    expected = x @ w.T + (lin.bias.detach().numpy() if bias else 0)
    np.testing.assert_allclose(lin(nc.from_numpy(x)).detach().numpy(), expected, rtol=1e-5, atol=1e-5)
    assert (lin.bias is None) == (not bias)


def test_linear_gradcheck_float64(rng):
    lin = nn.Linear(5, 3).double()
    x = nc.tensor(rng.standard_normal((4, 5)), requires_grad=True)
    assert lin.weight.dtype == nc.float64
    assert gradcheck(lambda x, w, b: F.linear(x, w, b), [x, lin.weight, lin.bias])


def test_linear_init_bounds_and_strided_input(rng):
    nc.manual_seed(3)
    lin = nn.Linear(100, 50)
    bound = 1 / math.sqrt(100)
    w = lin.weight.detach().numpy()
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.9 * bound
    assert np.abs(lin.bias.detach().numpy()).max() <= bound
    x = nc.from_numpy(rng.standard_normal((100, 30)).astype(np.float32)).T  # (30, 100), transposed view
    np.testing.assert_allclose(lin(x).detach().numpy(), x.numpy() @ w.T + lin.bias.detach().numpy(), rtol=1e-4,
                               atol=1e-5)
    with pytest.raises(ValueError, match="linear"):
        lin(nc.zeros(3, 99))


def np_gelu(x):
    from math import erf
    return x * 0.5 * (1 + np.vectorize(erf)(x / np.sqrt(2)))


ACTIVATIONS = [
    (nn.ReLU(), lambda x: np.maximum(x, 0)),
    (nn.LeakyReLU(0.2), lambda x: np.where(x > 0, x, 0.2 * x)),
    (nn.GELU(), np_gelu),
    (nn.GELU("tanh"), lambda x: 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x ** 3)))),
    (nn.SiLU(), lambda x: x / (1 + np.exp(-x))),
    (nn.Sigmoid(), lambda x: 1 / (1 + np.exp(-x))),
    (nn.Tanh(), np.tanh),
    (nn.Softplus(beta=2.0), lambda x: np.log1p(np.exp(2 * x)) / 2),
    (nn.Softmax(dim=1), lambda x: np.exp(x) / np.exp(x).sum(1, keepdims=True)),
    (nn.LogSoftmax(dim=-1), lambda x: x - np.log(np.exp(x).sum(-1, keepdims=True))),
    (nn.Identity(), lambda x: x),
]


@pytest.mark.parametrize("module,ref", ACTIVATIONS, ids=lambda v: repr(v) if isinstance(v, nn.Module) else "")
def test_activations(module, ref, rng):
    x = rng.standard_normal((4, 5)) * 2
    np.testing.assert_allclose(module(nc.tensor(x)).numpy(), ref(x), rtol=1e-10, atol=1e-12)
    xg = nc.tensor(x + 0.01, requires_grad=True)  # away from relu's kink
    assert gradcheck(lambda a: module(a), [xg])


def test_flatten_unflatten_dropout():
    x = nc.randn(2, 3, 4, 5)
    assert nn.Flatten()(x).shape == (2, 60)
    assert nn.Flatten(0, 2)(x).shape == (24, 5)
    assert nn.Unflatten(1, (3, 20))(nn.Flatten()(x)).shape == (2, 3, 20)
    d = nn.Dropout(0.25)
    nc.manual_seed(1)
    y = d(nc.ones(10000)).numpy()
    assert set(np.unique(y).tolist()) <= {0.0, float(np.float32(1 / 0.75))}
    assert abs((y == 0).mean() - 0.25) < 0.03
    d.eval()
    assert np.array_equal(d(nc.ones(10)).numpy(), np.ones(10))
    with pytest.raises(ValueError):
        nn.Dropout(1.5)


# ---- init ---------------------------------------------------------------------------------
def test_init_statistics_and_formulas():
    nc.manual_seed(0)
    w = nc.empty(400, 300)
    nn.init.kaiming_uniform_(w, nonlinearity="relu")
    b = math.sqrt(2) * math.sqrt(3 / 300)
    a = w.numpy()
    assert a.max() <= b and a.min() >= -b and abs(a.std() - b / math.sqrt(3)) < 0.01 * b
    nn.init.kaiming_normal_(w, mode="fan_out", nonlinearity="relu")
    assert abs(w.numpy().std() - math.sqrt(2 / 400)) < 0.02 * math.sqrt(2 / 400)
    nn.init.xavier_uniform_(w, gain=2.0)
    b = 2.0 * math.sqrt(6 / 700)
    assert w.numpy().max() <= b and abs(w.numpy().std() - b / math.sqrt(3)) < 0.01 * b
    nn.init.xavier_normal_(w)
    assert abs(w.numpy().std() - math.sqrt(2 / 700)) < 0.02 * math.sqrt(2 / 700)
    nn.init.normal_(w, 1.0, 0.5)
    assert abs(w.numpy().mean() - 1.0) < 0.01 and abs(w.numpy().std() - 0.5) < 0.01
    nn.init.uniform_(w, -3, -2)
    assert w.numpy().min() >= -3 and w.numpy().max() <= -2
    nn.init.zeros_(w)
    assert not w.numpy().any()
    nn.init.ones_(w)
    assert (w.numpy() == 1).all()
    conv_w = nc.empty(16, 4, 3, 3)
    assert nn.init._calculate_fan_in_and_fan_out(conv_w) == (36, 144)
    assert nn.init.calculate_gain("leaky_relu", 0.2) == pytest.approx(math.sqrt(2 / 1.04))
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        nn.init.xavier_uniform_(nc.empty(5))


@pytest.mark.parametrize("shape", [(6, 4), (4, 6), (5, 5), (3, 2, 2)])
def test_orthogonal(shape):
    nc.manual_seed(5)
    w = nc.empty(*shape, dtype=nc.float64)
    nn.init.orthogonal_(w, gain=1.5)
    m = w.numpy().reshape(shape[0], -1)
    small = min(m.shape)
    gram = m @ m.T if m.shape[0] == small else m.T @ m
    np.testing.assert_allclose(gram, 2.25 * np.eye(small), atol=1e-12)


def test_init_is_seeded_and_thread_independent():
    old = nc.get_num_threads()
    try:
        outs = []
        for threads in (1, 2):
            nc.set_num_threads(threads)
            outs.append([p.detach().numpy().copy() for p in mlp(7).parameters()])
    finally:
        nc.set_num_threads(old)
    for a, b in zip(*outs):
        assert np.array_equal(a, b)


# ---- Module machinery -------------------------------------------------------------------------
class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 3)
        self.register_buffer("running", nc.zeros(3))
        self.register_buffer("scratch", nc.zeros(2), persistent=False)
        self.scale = nn.Parameter(nc.ones(1))

    def forward(self, x):
        return self.fc(x) * self.scale + self.running


def test_traversal_names_and_modes():
    net = nn.Sequential(Block(), nn.ModuleList([nn.Linear(3, 2), nn.ReLU()]), nn.ModuleDict({"out": nn.Linear(2, 1)}))
    names = [n for n, _ in net.named_parameters()]
    assert names == ["0.scale", "0.fc.weight", "0.fc.bias", "1.0.weight", "1.0.bias", "2.out.weight", "2.out.bias"]
    assert [n for n, _ in net.named_buffers()] == ["0.running", "0.scratch"]
    # PyTorch's order: a module's own parameters, then its buffers, then its children's
    assert list(net.state_dict()) == names[:1] + ["0.running"] + names[1:]  # scratch is not persistent
    assert len(list(net.modules())) == 8 and len(list(net.children())) == 3
    net.eval()
    assert all(not m.training for m in net.modules())
    net.train()
    assert all(m.training for m in net.modules())
    seen = []
    net.apply(lambda m: seen.append(type(m).__name__))
    assert seen[-1] == "Sequential" and "Block" in seen


def test_zero_grad_to_dtype_and_repr():
    net = mlp()
    net(nc.randn(2, 6)).sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())
    net.double()
    assert all(p.dtype == nc.float64 and p.requires_grad for p in net.parameters())
    assert net(nc.randn(2, 6, dtype=nc.float64)).dtype == nc.float64
    r = repr(net)
    assert "(0): Linear(in_features=6, out_features=8, bias=True)" in r and "(3): Tanh()" in r


def test_hooks():
    lin = nn.Linear(2, 2)
    calls = []
    h1 = lin.register_forward_pre_hook(lambda m, args: (args[0] * 0,))
    h2 = lin.register_forward_hook(lambda m, args, out: calls.append(out.shape) or out + 1)
    y = lin(nc.ones(1, 2))
    np.testing.assert_allclose(y.detach().numpy(), lin.bias.detach().numpy()[None] + 1, rtol=1e-6)
    assert calls == [(1, 2)]
    h1.remove()
    h2.remove()
    lin(nc.ones(1, 2))
    assert len(calls) == 1


def test_state_dict_round_trip_gives_identical_outputs():
    a, b = mlp(1), mlp(2)
    x = nc.randn(4, 6)
    assert not np.array_equal(a(x).detach().numpy(), b(x).detach().numpy())
    b.load_state_dict(a.state_dict())
    assert np.array_equal(a(x).detach().numpy(), b(x).detach().numpy())
    # state_dict values are detached views: loading copies, it doesn't alias
    sd = a.state_dict()
    assert not sd["0.weight"].requires_grad
    b.load_state_dict({k: v.numpy().copy() for k, v in sd.items()})  # a dict of numpy arrays
    assert np.array_equal(a(x).detach().numpy(), b(x).detach().numpy())
    b[0].weight.detach().fill_(0.0)
    assert a[0].weight.detach().numpy().any()


def test_load_state_dict_strict_lists_every_problem():
    net = mlp()
    before = [p.detach().numpy().copy() for p in net.parameters()]
    sd = {k: v.numpy().copy() for k, v in net.state_dict().items()}
    del sd["2.bias"]
    sd["extra.weight"] = np.zeros(3)
    sd["0.weight"] = np.zeros((8, 5))
    sd["4.bias"] = np.full(3, 7.0)
    with pytest.raises(RuntimeError) as err:
        net.load_state_dict(sd)
    msg = str(err.value)
    assert "missing keys: 2.bias" in msg
    assert "unexpected keys: extra.weight" in msg
    assert "0.weight: checkpoint shape (8, 5), model shape (8, 6)" in msg
    for p, b in zip(net.parameters(), before):  # nothing was written
        assert np.array_equal(p.detach().numpy(), b)
    sd["0.weight"] = before[0]
    missing, unexpected = net.load_state_dict(sd, strict=False)
    assert missing == ["2.bias"] and unexpected == ["extra.weight"]
    assert (net[4].bias.detach().numpy() == 7.0).all()


def test_load_state_dict_from_torch_gives_identical_outputs(rng):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    tnet = torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.ReLU(), torch.nn.Linear(8, 8), torch.nn.Tanh(),
                               torch.nn.Linear(8, 3)).double()
    net = mlp().double()
    net.load_state_dict(tnet.state_dict())
    x = rng.standard_normal((5, 6))
    ours = net(nc.tensor(x)).detach().numpy()
    theirs = tnet(torch.tensor(x)).detach().numpy()
    np.testing.assert_allclose(ours, theirs, rtol=1e-13, atol=1e-15)
    # and back: torch loads ours
    tnet2 = torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.ReLU(), torch.nn.Linear(8, 8), torch.nn.Tanh(),
                                torch.nn.Linear(8, 3)).double()
    tnet2.load_state_dict({k: torch.from_numpy(v.numpy().copy()) for k, v in net.state_dict().items()})
    np.testing.assert_allclose(tnet2(torch.tensor(x)).detach().numpy(), ours, rtol=1e-13)
    # float32 model loading torch float32 weights: identical outputs up to float32 GEMM rounding
    net32, t32 = mlp(), tnet.float()
    net32.load_state_dict(t32.state_dict())
    np.testing.assert_allclose(net32(nc.tensor(x.astype(np.float32))).detach().numpy(),
                               t32(torch.tensor(x.astype(np.float32))).detach().numpy(), rtol=1e-5, atol=1e-6)


def test_training_a_small_regression_converges():
    nc.manual_seed(0)
    x = nc.randn(64, 3)
    y = (x * nc.tensor([1.0, -2.0, 0.5])).sum(1, keepdim=True) + 0.3
    lin = nn.Linear(3, 1)
    opt = nc.optim.SGD(lin.parameters(), lr=0.1, momentum=0.9)
    for _ in range(200):
        opt.zero_grad()
        loss = F.mse_loss(lin(x), y)
        loss.backward()
        opt.step()
    np.testing.assert_allclose(lin.weight.detach().numpy(), [[1.0, -2.0, 0.5]], atol=1e-4)
    assert lin.bias.item() == pytest.approx(0.3, abs=1e-4)


def test_deepcopy_module_copies_parameters_and_buffers():
    import copy

    m = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    m2 = copy.deepcopy(m)
    for (name, a), (name2, b) in zip(m.state_dict().items(), m2.state_dict().items()):
        assert name == name2 and a is not b
        np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())
    assert isinstance(m2[0].weight, nn.Parameter) and m2[0].weight.requires_grad
    with nc.no_grad():
        m2[0].weight.fill_(0.0)
    assert float(m[0].weight.detach().abs().sum()) > 0  # the original is untouched
