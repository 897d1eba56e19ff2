"""nn_core.save / nn_core.load and nn_core.checkpoint: round trips of every dtype and layout, safetensors
interop, zero-copy loading, validation that leaves models and optimizers untouched, CheckpointManager, and
resume-equals-uninterrupted across processes.

The training stand-ins (an MLP, an SGD-with-momentum optimizer, a StepLR-like scheduler and a data loader
with its own numpy Generator) live here until the real nn_core.optim / nn_core.data land; this file is also
the child script of the resume test (`python tests/test_checkpoint.py <mode> ...`).
"""
import json
import math
import os
import random
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

import nn_core as nc
from nn_core import nn
from nn_core.checkpoint import CheckpointManager, CheckpointWarning
from nn_core.serialization import CheckpointError

HERE = Path(__file__).resolve().parent

ALL_DTYPES = [nc.float32, nc.float64, nc.float16, nc.bfloat16, nc.int8, nc.uint8, nc.int32, nc.int64, nc.bool]


# ---- training stand-ins ---------------------------------------------------------------------------
class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.w1 = nn.Parameter(nc.randn(8, 16) * 0.3)
        self.b1 = nn.Parameter(nc.zeros(16))
        self.w2 = nn.Parameter(nc.randn(16, 3) * 0.3)
        self.register_buffer("seen", nc.zeros(1, dtype=nc.int64))

    def forward(self, x):
        h = (x @ self.w1 + self.b1).relu()
        keep = (nc.rand(*h.shape) > 0.2).float()  # dropout: draws from nn_core's RNG
        return (h * keep / 0.8) @ self.w2


class SGD:
    """Stand-in SGD with momentum following PyTorch's state_dict protocol."""

    def __init__(self, params, lr=0.1, momentum=0.9):
        self.param_groups = [{"params": list(params), "lr": lr, "momentum": momentum}]
        self.state = {}

    def zero_grad(self):
        for g in self.param_groups:
            for p in g["params"]:
                p.grad = None

    def step(self):
        with nc.no_grad():
            i = 0
            for g in self.param_groups:
                for p in g["params"]:
                    if p.grad is not None:
                        buf = self.state.get(i, {}).get("momentum_buffer")
                        buf = p.grad.clone() if buf is None else buf * g["momentum"] + p.grad
                        self.state[i] = {"momentum_buffer": buf}
                        p.sub_(buf * g["lr"])
                    i += 1

    def state_dict(self):
        groups, start = [], 0
        for g in self.param_groups:
            groups.append({**{k: v for k, v in g.items() if k != "params"},
                           "params": list(range(start, start + len(g["params"])))})
            start += len(g["params"])
        return {"state": {i: dict(s) for i, s in self.state.items()}, "param_groups": groups}

    def load_state_dict(self, sd):
        self.state = {int(i): {k: (v.clone() if isinstance(v, nc.Tensor) else v) for k, v in s.items()}
                      for i, s in sd["state"].items()}
        for g, sg in zip(self.param_groups, sd["param_groups"]):
            g.update({k: v for k, v in sg.items() if k != "params"})


class StepLR:
    def __init__(self, opt, step_size=3, gamma=0.5):
        self.opt, self.step_size, self.gamma, self.last_epoch = opt, step_size, gamma, 0
        self.base_lr = opt.param_groups[0]["lr"]

    def step(self):
        self.last_epoch += 1
        self.opt.param_groups[0]["lr"] = self.base_lr * self.gamma ** (self.last_epoch // self.step_size)

    def state_dict(self):
        return {"step_size": self.step_size, "gamma": self.gamma, "last_epoch": self.last_epoch,
                "base_lr": self.base_lr}

    def load_state_dict(self, sd):
        self.step_size, self.gamma, self.last_epoch, self.base_lr = (
            sd["step_size"], sd["gamma"], sd["last_epoch"], sd["base_lr"])


class Loader:
    """Stand-in data loader: its position and its own numpy Generator are its state."""

    def __init__(self, seed=5, batches_per_epoch=4):
        self.gen = np.random.default_rng(seed)
        self.epoch, self.batch, self.per_epoch = 0, 0, batches_per_epoch

    def next(self):
        x = self.gen.standard_normal((4, 8)).astype(np.float32)
        y = self.gen.integers(0, 3, size=4)
        self.batch += 1
        if self.batch == self.per_epoch:
            self.epoch, self.batch = self.epoch + 1, 0
        return nc.from_numpy(x), nc.from_numpy(y)

    def state_dict(self):
        return {"epoch": self.epoch, "batch": self.batch, "generator": self.gen.bit_generator.state}

    def load_state_dict(self, sd):
        self.epoch, self.batch = sd["epoch"], sd["batch"]
        self.gen.bit_generator.state = sd["generator"]


def make_run(seed=0):
    nc.manual_seed(seed)
    model = MLP()
    opt = SGD(model.parameters())
    return model, opt, StepLR(opt), Loader()


def train(model, opt, sched, loader, steps):
    for _ in range(steps):
        x, y = loader.next()
        out = model(x)
        loss = -out.log_softmax(dim=1)[nc.arange(4), y].mean()
        loss = loss * (1.0 + 0.01 * random.random()) + float(np.random.uniform(0, 1e-3))  # Python + numpy RNGs
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        with nc.no_grad():
            model.seen.add_(1)


def _child_main(argv):
    """Modes: full N+M OUT | first N CKPT | resume CKPT M OUT (OUT gets final params and optimizer state)."""
    random.seed(1)
    np.random.seed(2)
    mode = argv[0]
    if mode == "full":
        model, opt, sched, loader = make_run()
        train(model, opt, sched, loader, int(argv[1]))
        nc.save({"model": model.state_dict(), "opt": opt.state_dict()}, argv[2])
    elif mode == "first":
        model, opt, sched, loader = make_run()
        train(model, opt, sched, loader, int(argv[1]))
        nc.checkpoint.save(argv[2], model=model, optimizer=opt, scheduler=sched, data_loader=loader,
                           step=int(argv[1]), python_rng=True, numpy_rng=True, metadata={"note": "first"})
    elif mode == "resume":
        model, opt, sched, loader = make_run(seed=123)  # different init: everything must come from the file
        random.seed(99)
        np.random.seed(99)
        ck = nc.checkpoint.load(argv[1], model=model, optimizer=opt, scheduler=sched, data_loader=loader)
        assert ck.metadata == {"note": "first"}
        train(model, opt, sched, loader, int(argv[2]))
        nc.save({"model": model.state_dict(), "opt": opt.state_dict()}, argv[3])


# ---- helpers -----------------------------------------------------------------------------------------
def raw_bytes(t):
    return bytes(nc._C._tensor_bytes(t.detach().contiguous()))


def assert_same(a, b, path="root"):
    """Deep equality: tensors by dtype, shape and bytes; floats NaN-aware; tuples vs lists kept apart."""
    assert type(a) is type(b) or (isinstance(a, nc.Tensor) and isinstance(b, nc.Tensor)), \
        f"{path}: {type(a).__name__} vs {type(b).__name__}"
    if isinstance(a, nc.Tensor):
        assert a.dtype == b.dtype and tuple(a.shape) == tuple(b.shape), f"{path}: {a.dtype}{a.shape} {b.dtype}{b.shape}"
        assert raw_bytes(a) == raw_bytes(b), f"{path}: values differ"
    elif isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes(), path
    elif isinstance(a, dict):
        assert list(a.keys()) == list(b.keys()), f"{path}: keys {list(a)} vs {list(b)}"
        for k in a:
            assert_same(a[k], b[k], f"{path}/{k}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same(x, y, f"{path}/{i}")
    elif isinstance(a, float) and math.isnan(a):
        assert math.isnan(b), path
    else:
        assert a == b, f"{path}: {a!r} vs {b!r}"


def sample_tensor(dtype, shape, rng):
    vals = rng.standard_normal(shape) * 50
    if dtype == nc.bool:
        return nc.tensor(vals > 0)
    return nc.tensor(vals).to(dtype)


# ---- round trips -----------------------------------------------------------------------------------
@pytest.mark.parametrize("mmap", [True, False])
@pytest.mark.parametrize("dtype", ALL_DTYPES, ids=str)
def test_round_trip_every_dtype(tmp_path, rng, dtype, mmap):
    shapes = [(), (1,), (7,), (3, 5), (2, 0, 3), (0,), (2, 3, 4, 5)]
    obj = {f"t{i}": sample_tensor(dtype, s, rng) for i, s in enumerate(shapes)}
    if dtype in (nc.float16, nc.bfloat16, nc.float32, nc.float64):
        obj["special"] = nc.tensor([0.0, -0.0, float("inf"), float("-inf"), float("nan"), 1e-8, 65504.0]).to(dtype)
    nc.save(obj, tmp_path / "f.safetensors")
    back = nc.load(tmp_path / "f.safetensors", mmap=mmap)
    assert_same(obj, back)


def test_non_contiguous_and_shared_storage(tmp_path):
    base = nc.arange(60, dtype=nc.float32).reshape(3, 4, 5)
    obj = {
        "base": base, "again": base,  # the same tensor twice -> stored once, one object back
        "alias": base.detach(),  # same view, another Python object -> still shared
        "T": base.transpose(0, 2), "step": base[:, ::2, 1::3], "rev": base.flatten()[::-3],
        "overlap": base.flatten()[10:30],  # partial overlap with base: saved as its own values
        "expanded": nc.tensor([1.0, 2.0]).broadcast_to((3, 2)),
    }
    nc.save(obj, tmp_path / "f.safetensors")
    back = nc.load(tmp_path / "f.safetensors")
    for k, v in obj.items():
        assert_same(v.contiguous(), back[k], k)
        assert back[k].is_contiguous()
    assert back["again"] is back["base"] and back["alias"] is back["base"]
    assert back["T"] is not back["base"]
    from safetensors import safe_open  # noqa: F401  (the file lists each stored tensor once)
    header = json.loads((tmp_path / "f.safetensors").read_bytes()[8:][:int.from_bytes(
        (tmp_path / "f.safetensors").read_bytes()[:8], "little")])
    assert "again" not in header and "alias" not in header and "T" in header


def test_nested_state_and_plain_values(tmp_path, rng):
    obj = {
        "model": {"layer.0.weight": nc.randn(3, 2), "layer.0.bias": nc.zeros(3)},
        "opt": {"state": {0: {"momentum_buffer": nc.randn(3, 2), "step": 7}, 1: {}},
                "param_groups": [{"lr": 0.1, "betas": (0.9, 0.99), "params": [0, 1], "nesterov": False}]},
        "weird/keys~": {"a/b": nc.ones(2), "a~1b": nc.zeros(2), "": nc.ones(1), None: 1, 2.5: "x", True: [None]},
        "floats": [float("inf"), float("-inf"), float("nan"), -0.0, 1e308, 5e-324],
        "big": 2 ** 100, "neg": -(2 ** 70), "bytes": b"\x00\xffabc", "text": "ünïcødé \"quoted\" \n",
        "np": {"f": rng.standard_normal((2, 3)), "i": np.arange(5, dtype=np.int32), "scalar": np.float64(2.5)},
        "empty": {}, "empty_list": [], "tuple": (1, (2, [3])),
        "grad": nc.randn(2, requires_grad=True),
    }
    nc.save(obj, tmp_path / "f.safetensors", metadata={"author": "me"})
    back = nc.load(tmp_path / "f.safetensors")
    expected = dict(obj)
    expected["np"] = {"f": obj["np"]["f"], "i": obj["np"]["i"], "scalar": 2.5}
    assert_same(expected, back)
    assert back["grad"].requires_grad and not back["model"]["layer.0.bias"].requires_grad
    assert nc.serialization.read_metadata(tmp_path / "f.safetensors") == {"author": "me"}


def test_save_rejects_unsupported_values(tmp_path):
    with pytest.raises(TypeError, match="object"):
        nc.save({"x": object()}, tmp_path / "f.safetensors")
    with pytest.raises(TypeError, match="keys must be"):
        nc.save({(1, 2): 3}, tmp_path / "f.safetensors")
    with pytest.raises(ValueError, match="reserved"):
        nc.save({}, tmp_path / "f.safetensors", metadata={"nn_core.tree": "x"})
    assert not list(tmp_path.iterdir())  # nothing written, no temp file left


def test_file_objects(tmp_path, rng):
    import io
    a = MLP()
    buf = io.BytesIO()
    nc.save(a.state_dict(), buf)
    buf.seek(0)
    b = MLP()
    b.load_state_dict(nc.load(buf, map_location="cpu", weights_only=True))
    assert_same(dict(a.state_dict()), dict(b.state_dict()))
    # an open file, at a non-zero position after other bytes, and two objects one after the other
    obj = {"x": nc.from_numpy(rng.standard_normal((3, 5))), "n": [1, 2.5, "s"]}
    with open(tmp_path / "f.bin", "wb") as f:
        f.write(b"prefix")
        nc.save(obj, f)
    with open(tmp_path / "f.bin", "rb") as f:
        assert f.read(6) == b"prefix"
        assert_same(obj, nc.load(f))
    # what a BytesIO holds is a regular safetensors file
    buf.seek(0)
    (tmp_path / "m.safetensors").write_bytes(buf.getvalue())
    assert_same(dict(a.state_dict()), nc.load(tmp_path / "m.safetensors"))
    damaged = bytearray(buf.getvalue())
    damaged[-1] ^= 0xFF
    with pytest.raises(nc.CheckpointError, match="checksum mismatch"):
        nc.load(io.BytesIO(bytes(damaged)))
    with pytest.raises(TypeError, match="binary mode"):
        nc.load(io.StringIO("text"))
    with pytest.raises(RuntimeError, match="only the cpu device"):
        nc.load(io.BytesIO(buf.getvalue()), map_location="cuda:0")


def test_saving_a_whole_module_explains_the_state_dict_way(tmp_path):
    with pytest.raises(TypeError, match=r"whole MLP module.*state_dict.*load_state_dict"):
        nc.save(MLP(), tmp_path / "m.safetensors")
    with pytest.raises(TypeError, match=r"whole SGD .*state_dict"):
        nc.save({"opt": nc.optim.SGD(MLP().parameters(), lr=0.1)}, tmp_path / "m.safetensors")
    assert not list(tmp_path.iterdir())


def test_module_load_state_dict_consumes_load(tmp_path):
    a, b = MLP(), MLP()
    nc.save(a.state_dict(), tmp_path / "m.safetensors")
    b.load_state_dict(nc.load(tmp_path / "m.safetensors"))
    assert_same(dict(a.state_dict()), dict(b.state_dict()))


def test_mmap_is_zero_copy_and_copy_on_write(tmp_path):
    t = nc.randn(256, 1024)  # 1 MiB
    nc.save({"w": t}, tmp_path / "f.safetensors")
    before = nc.memory_stats()["bytes_in_use"]
    w = nc.load(tmp_path / "f.safetensors")["w"]
    assert nc.memory_stats()["bytes_in_use"] - before < 4096  # no payload-sized allocation
    w2 = nc.load(tmp_path / "f.safetensors", mmap=False)["w"]
    assert nc.memory_stats()["bytes_in_use"] - before >= t.numel() * 4
    w.mul_(0.0)  # writes stay private to this process
    assert_same(nc.load(tmp_path / "f.safetensors")["w"], t)
    assert_same(w2, t)


# ---- interop with the safetensors package -------------------------------------------------------------
def test_safetensors_package_files_load(tmp_path, rng):
    st = pytest.importorskip("safetensors.numpy")
    arrays = {"a": rng.standard_normal((3, 4)).astype(np.float32), "b": np.arange(7, dtype=np.int64),
              "c": rng.standard_normal(5).astype(np.float16), "d": np.array([True, False]), "e": np.zeros((0, 2)),
              "f": np.arange(3, dtype=np.uint8), "g": np.arange(3, dtype=np.int8)}
    st.save_file(arrays, str(tmp_path / "pkg.safetensors"), metadata={"k": "v"})
    with pytest.raises(CheckpointError, match="no checksum"):
        nc.load(tmp_path / "pkg.safetensors")
    back = nc.load(tmp_path / "pkg.safetensors", verify=False)
    assert set(back) == set(arrays)
    for k, v in arrays.items():
        assert back[k].numpy().dtype == v.dtype and back[k].numpy().tobytes() == v.tobytes()
    assert nc.serialization.read_metadata(tmp_path / "pkg.safetensors") == {"k": "v"}


def test_our_files_load_in_safetensors_package(tmp_path, rng):
    st = pytest.importorskip("safetensors.numpy")
    state = {f"t{i}": sample_tensor(dt, (3, 2), rng) for i, dt in enumerate(ALL_DTYPES) if dt != nc.bfloat16}
    state["empty"] = nc.empty(0, 4)
    nc.save(state, tmp_path / "ours.safetensors")
    back = st.load_file(str(tmp_path / "ours.safetensors"))
    assert set(back) == set(state)
    for k, v in state.items():
        assert back[k].dtype == v.numpy().dtype and back[k].tobytes() == v.numpy().tobytes()


def test_bfloat16_interop_with_torch(tmp_path):
    torch = pytest.importorskip("torch")
    stt = pytest.importorskip("safetensors.torch")
    x = nc.randn(5, 3).to(nc.bfloat16)
    nc.save({"x": x}, tmp_path / "ours.safetensors")
    tx = stt.load_file(str(tmp_path / "ours.safetensors"))["x"]
    assert tx.dtype == torch.bfloat16 and np.array_equal(tx.float().numpy(), x.float().numpy())
    stt.save_file({"y": tx * 2}, str(tmp_path / "theirs.safetensors"))
    y = nc.load(tmp_path / "theirs.safetensors", verify=False)["y"]
    assert y.dtype == nc.bfloat16 and np.array_equal(y.float().numpy(), (tx * 2).float().numpy())


def test_misaligned_foreign_layout_is_copied(tmp_path):
    # a header whose length puts the float32 tensor at an odd file offset: loads by copying
    header = json.dumps({"b": {"dtype": "U8", "shape": [1], "data_offsets": [0, 1]},
                         "x": {"dtype": "F32", "shape": [2], "data_offsets": [1, 9]}}).encode()
    payload = b"\x07" + np.array([1.5, -2.0], np.float32).tobytes()
    (tmp_path / "odd.safetensors").write_bytes(len(header).to_bytes(8, "little") + header + payload)
    back = nc.load(tmp_path / "odd.safetensors", verify=False)
    assert back["x"].numpy().tolist() == [1.5, -2.0] and back["b"].numpy().tolist() == [7]


def test_xxh64_matches_reference():
    xxhash = pytest.importorskip("xxhash")
    data = os.urandom(1000)
    for n in [0, 1, 3, 4, 8, 31, 32, 33, 100, 1000]:
        assert nc._C._xxh64([data[:n]]) == xxhash.xxh64(data[:n]).intdigest()
        cut = n // 3
        assert nc._C._xxh64([data[:cut], b"", data[cut:n]], 7) == xxhash.xxh64(data[:n], seed=7).intdigest()


def test_failed_write_keeps_old_file(tmp_path, monkeypatch):
    path = tmp_path / "f.safetensors"
    nc.save({"v": nc.ones(3)}, path)

    def boom(*a, **k):
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError, match="simulated"):
        nc.save({"v": nc.zeros(3)}, path)
    monkeypatch.undo()
    assert [p.name for p in tmp_path.iterdir()] == ["f.safetensors"]
    assert_same(nc.load(path)["v"], nc.ones(3))


# ---- training-state checkpoints -------------------------------------------------------------------------
def test_checkpoint_round_trip_in_process(tmp_path):
    model, opt, sched, loader = make_run()
    random.seed(1)
    np.random.seed(2)
    train(model, opt, sched, loader, 3)
    nc.checkpoint.save(tmp_path / "c.safetensors", model=model, optimizer=opt, scheduler=sched, data_loader=loader,
                       step=3, epoch=loader.epoch, python_rng=True, numpy_rng=True, metadata={"loss": 0.5},
                       plain={"anything": [1, 2]})
    rng_after = (nc._C.get_rng_state(), random.getstate(), np.random.get_state()[1].copy())
    m2, o2, s2, l2 = make_run(seed=7)
    nc.manual_seed(42)
    random.seed(42)
    np.random.seed(42)
    ck = nc.checkpoint.load(tmp_path / "c.safetensors", model=m2, optimizer=o2, scheduler=s2, data_loader=l2)
    assert (ck.step, ck.epoch, ck.metadata, ck.objects["plain"]) == (3, loader.epoch, {"loss": 0.5}, {"anything": [1, 2]})
    assert_same(dict(model.state_dict()), dict(m2.state_dict()))
    assert_same(opt.state_dict(), o2.state_dict())
    assert s2.state_dict() == sched.state_dict() and l2.state_dict() == loader.state_dict()
    assert nc._C.get_rng_state() == rng_after[0] and random.getstate() == rng_after[1]
    assert np.array_equal(np.random.get_state()[1], rng_after[2])


def _snapshot(model, opt):
    return ({k: raw_bytes(v) for k, v in model.state_dict().items()},
            {i: {k: raw_bytes(v) for k, v in s.items()} for i, s in opt.state.items()}, dict(opt.param_groups[0]))


@pytest.mark.parametrize("corrupt", ["missing", "unexpected", "shape", "dtype", "opt_groups", "opt_shape",
                                     "no_object", "bad_rng", "failing_loader"])
def test_failed_restore_leaves_everything_unchanged(tmp_path, corrupt):
    model, opt, sched, loader = make_run()
    train(model, opt, sched, loader, 2)
    ms, os_ = model.state_dict(), opt.state_dict()
    objects = {"model": ms, "optimizer": os_, "scheduler": sched.state_dict(), "data_loader": loader.state_dict()}
    if corrupt == "missing":
        del ms["w2"]
    elif corrupt == "unexpected":
        ms["extra"] = nc.ones(1)
    elif corrupt == "shape":
        ms["w1"] = nc.ones(16, 8)
    elif corrupt == "dtype":
        ms["w1"] = ms["w1"].double()
    elif corrupt == "opt_groups":
        os_["param_groups"].append({"lr": 1.0, "params": []})
    elif corrupt == "opt_shape":
        os_["state"][0]["momentum_buffer"] = nc.ones(2)
    elif corrupt == "no_object":
        del objects["scheduler"]
    state = {"kind": "nn_core.checkpoint", "version": 1, "step": 1, "epoch": 0, "metadata": {}, "objects": objects,
             "rng": {"nn_core": (1, 2**64 if corrupt == "bad_rng" else 0)}}
    nc.save(state, tmp_path / "c.safetensors")

    m2, o2, s2, l2 = make_run(seed=3)
    train(m2, o2, s2, l2, 1)
    if corrupt == "failing_loader":
        def refuse(sd):
            raise RuntimeError("loader refuses")
        l2.load_state_dict = refuse
    before = (_snapshot(m2, o2), s2.state_dict(), l2.state_dict(), nc._C.get_rng_state())
    with pytest.raises(CheckpointError) as info:
        nc.checkpoint.load(tmp_path / "c.safetensors", model=m2, optimizer=o2, scheduler=s2, data_loader=l2)
    print(info.value)
    after = (_snapshot(m2, o2), s2.state_dict(), l2.state_dict(), nc._C.get_rng_state())
    assert after == before


def test_resume_in_fresh_process_is_bitwise_equal(tmp_path):
    n, m = 5, 6
    script = str(HERE / "test_checkpoint.py")
    # The children import the same nn_core as this process (installed in CI), plus tests/.
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(Path(nc.__file__).resolve().parent.parent), str(HERE)]),
               PYTHONSAFEPATH="1")

    def run(*args):
        r = subprocess.run([sys.executable, script, *map(str, args)], env=env, cwd=tmp_path,
                           capture_output=True, text=True, timeout=600)
        assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]

    run("full", n + m, tmp_path / "full.safetensors")
    run("first", n, tmp_path / "ckpt.safetensors")
    run("resume", tmp_path / "ckpt.safetensors", m, tmp_path / "resumed.safetensors")
    full = nc.load(tmp_path / "full.safetensors")
    resumed = nc.load(tmp_path / "resumed.safetensors")
    assert_same(full, resumed)
    first = nc.load(tmp_path / "ckpt.safetensors")["objects"]["model"]
    assert raw_bytes(first["w1"]) != raw_bytes(full["model"]["w1"])  # training moved on after the save


# ---- CheckpointManager ------------------------------------------------------------------------------------
def test_manager_keeps_newest_and_skips_corrupt(tmp_path):
    model, opt, sched, loader = make_run()
    mgr = CheckpointManager(tmp_path, keep=3)
    for step in range(0, 50, 10):
        train(model, opt, sched, loader, 1)
        mgr.save(step, model=model, optimizer=opt)
    assert mgr.steps() == [20, 30, 40]
    (tmp_path / ".ckpt-000000000050.safetensors.999999999.abc.tmp").write_bytes(b"partial")  # never a checkpoint
    assert mgr.latest() == 40
    data = bytearray(Path(mgr.path(40)).read_bytes())
    data[-5] ^= 0x10
    Path(mgr.path(40)).write_bytes(bytes(data))
    with pytest.warns(CheckpointWarning, match="step 40.*checksum"):
        assert mgr.latest() == 30
    m2, o2, _, _ = make_run(seed=9)
    with pytest.warns(CheckpointWarning):
        ck = mgr.restore(model=m2, optimizer=o2)
    assert ck.step == 30
    # a fresh manager removes temp files of dead processes
    CheckpointManager(tmp_path, keep=3)
    assert not any(p.name.endswith(".tmp") for p in tmp_path.iterdir())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CheckpointWarning)
        assert CheckpointManager(tmp_path / "empty").restore(model=m2) is None


if __name__ == "__main__":
    _child_main(sys.argv[1:])
