"""nn_core.distributed and DistributedDataParallel across processes: each test starts ``mpirun
--oversubscribe -n N`` (2 or 3 ranks on this machine) on one of the programs in
DISTRIBUTED_PROGRAM below, with a hard timeout, and checks what the ranks printed.

  * collectives against numpy on random shapes and dtypes (contiguous and not), and the
    cross-rank shape check that names the tensor and the ranks;
  * DDP on the digits MLP: after N steps the parameters are bitwise identical on every rank and
    within 1e-6 of single-process training on the combined batch; buckets start while backward
    is still running; no_sync accumulation equals
    the large-batch step; unused parameters are handled (find_unused_parameters) or reported;
    a checkpoint written by rank 0 loads at any world size;
  * failures: a rank that raises, hangs, or is killed makes the others stop with a clear error
    within the configured timeout.
Skipped without mpirun or mpi4py. In-process: DistributedSampler, the nccl backend's error.
"""
import importlib.util
import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import nn_core as nc
from nn_core import distributed as dist
from nn_core.data import DataLoader, DistributedSampler, TensorDataset

from child_process import child_env

MPIRUN = shutil.which("mpirun")
needs_mpi = pytest.mark.skipif(MPIRUN is None or importlib.util.find_spec("mpi4py") is None,
                               reason="needs mpirun (openmpi-bin) and mpi4py")

DISTRIBUTED_PROGRAM = r'''
import os, sys, time
import numpy as np
import nn_core as nc
import nn_core.distributed as dist
from nn_core import nn
from nn_core.nn.parallel import DistributedDataParallel as DDP

mode = sys.argv[1]
timeout = float(os.environ.get("DIST_TIMEOUT", "60"))
dist.init_process_group("mpi", timeout=timeout, abort_grace=1.0)
rank, size = dist.get_rank(), dist.get_world_size()

def to_nc(a):
    return nc.from_numpy(np.array(a, order="C"))

def rank_data(seed, r, shape, dtype):
    rng = np.random.default_rng(seed * 1000 + r)
    if dtype == "bool":
        return rng.random(shape) < 0.5
    if dtype in ("int32", "int64", "int8", "uint8"):
        return rng.integers(1, 4, size=shape).astype(dtype)
    if dtype == "bfloat16":  # float32 values that bfloat16 holds exactly
        a = np.asarray(rng.uniform(-2, 2, size=shape), dtype=np.float32)
        return (a.view(np.uint32) & np.uint32(0xFFFF0000)).view(np.float32)
    return rng.uniform(-2, 2, size=shape).astype(dtype)

def as_tensor(a, dtype):
    t = to_nc(a.astype(np.float32) if dtype == "bfloat16" else a)
    return t.to(nc.bfloat16) if dtype == "bfloat16" else t

def as_numpy(t):
    return (t.float() if str(t.dtype).endswith("bfloat16") else t).numpy().astype(np.float64)

def check(got, want, dtype, what):
    tol = {"float16": 2e-2, "bfloat16": 5e-2, "float32": 1e-5}.get(dtype, 1e-12)
    got = np.asarray(got, dtype=np.float64)
    want = np.asarray(want, dtype=np.float64)
    if got.shape != want.shape or not np.allclose(got, want, rtol=tol, atol=tol):
        raise AssertionError(f"rank {rank}: {what} ({dtype}) mismatch: got {got.ravel()[:5]} want {want.ravel()[:5]}")

def collectives():
    rng = np.random.default_rng(7)
    shapes = [(), (1,), (7,), (3, 5), (2, 3, 4), (129,), (0, 3)]
    dtypes = ["float32", "float64", "float16", "bfloat16", "int32", "int64", "int8", "uint8", "bool"]
    count = 0
    for seed in range(24):
        shape = shapes[seed % len(shapes)]
        dtype = dtypes[(seed * 5) % len(dtypes)]
        data = [rank_data(seed, r, shape, dtype) for r in range(size)]
        stack = np.stack([d.astype(np.float64) for d in data])
        ops = {"sum": stack.sum(0), "max": stack.max(0), "min": stack.min(0), "product": stack.prod(0)}
        if dtype.startswith("float") or dtype == "bfloat16":
            ops["avg"] = stack.mean(0)
        for op, want in ops.items():
            if dtype == "bool":
                want = {"sum": stack.max(0), "product": stack.min(0)}.get(op, want)
            t = as_tensor(data[rank], dtype)
            dist.all_reduce(t, op=op)
            check(as_numpy(t), want, dtype, f"all_reduce {op} {shape}")
            count += 1
        src = seed % size
        t = as_tensor(data[rank], dtype)
        dist.broadcast(t, src=src)
        check(as_numpy(t), data[src], dtype, f"broadcast {shape}")
        outs = [as_tensor(np.zeros(shape, data[0].dtype), dtype) for _ in range(size)]
        dist.all_gather(outs, as_tensor(data[rank], dtype))
        for r in range(size):
            check(as_numpy(outs[r]), data[r], dtype, f"all_gather {shape}")
        if len(shape) >= 1 and dtype != "bool":
            big = [rank_data(seed + 50, r, (size,) + shape, dtype) for r in range(size)]
            out = as_tensor(np.zeros(shape, big[0].dtype), dtype)
            dist.reduce_scatter(out, [as_tensor(big[rank][i], dtype) for i in range(size)])
            want = sum(b[rank].astype(np.float64) for b in big)
            check(as_numpy(out), want, dtype, f"reduce_scatter {shape}")
            out = as_tensor(np.zeros(shape, big[0].dtype), dtype)
            flat = as_tensor(big[rank].reshape((size * shape[0],) + shape[1:]), dtype)
            dist.reduce_scatter_tensor(out, flat)
            check(as_numpy(out), want, dtype, f"reduce_scatter_tensor {shape}")
            gathered = as_tensor(np.zeros((size * shape[0],) + shape[1:], data[0].dtype), dtype)
            dist.all_gather_into_tensor(gathered, as_tensor(data[rank], dtype))
            check(as_numpy(gathered), np.concatenate(data), dtype, f"all_gather_into_tensor {shape}")
        count += 3
    # non-contiguous tensors go through a staging copy and are written back in place
    base = to_nc(rank_data(99, rank, (5, 6), "float32"))
    view = base.t()
    dist.all_reduce(view)
    check(view.numpy(), sum(rank_data(99, r, (5, 6), "float32") for r in range(size)).T, "float32", "strided")
    # zero-copy: a contiguous float32 tensor is reduced in its own memory
    t = nc.ones(1000)
    ptr = t.data_ptr()
    dist.all_reduce(t)
    assert t.data_ptr() == ptr and float(t.numpy()[0]) == size
    # async_op returns a Work
    t = nc.ones(3)
    work = dist.all_reduce(t, async_op=True)
    assert work.wait() and work.is_completed()
    # mixed paths: rank 0's second all_reduce queues behind its pending async one (communication
    # thread) while the other ranks run theirs on the caller's thread; they must still match
    big, small = nc.ones(1 << 20), nc.ones(5)
    if rank == 0:
        work = dist.all_reduce(big, async_op=True)
        dist.all_reduce(small)
        work.wait()
    else:
        dist.all_reduce(big)
        dist.all_reduce(small)
    assert float(big.numpy()[-1]) == size and float(small.numpy()[0]) == size
    dist.barrier()
    objs = [None] * size
    dist.all_gather_object(objs, {"rank": rank})
    assert objs == [{"rank": r} for r in range(size)], objs
    lst = [rank, "x"] if rank == 1 else [None, None]
    dist.broadcast_object_list(lst, src=1)
    assert lst == [1, "x"]
    # a shape mismatch between ranks is an error on every rank that names the shapes and the ranks
    try:
        dist.all_reduce(nc.ones(3, 4 + (rank == size - 1)))
    except dist.DistError as e:
        print(f"rank {rank} MISMATCH: {e}", flush=True)
    else:
        raise AssertionError("no error for mismatched shapes")
    # the group still works afterwards
    t = nc.ones(2)
    dist.all_reduce(t)
    assert float(t.numpy()[0]) == size
    print(f"rank {rank} COLLECTIVES OK {count}", flush=True)

def digits_mlp(seed, dtype):
    nc.manual_seed(seed)
    model = nn.Sequential(nn.Linear(64, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 10))
    return model.to(dtype) if dtype != nc.float32 else model

def digits_batches(steps, per_rank):
    from sklearn.datasets import load_digits
    d = load_digits()
    x = (d.data / 16.0).astype(np.float32)
    y = d.target.astype(np.int64)
    total = per_rank * size
    return [(x[s * total:(s + 1) * total], y[s * total:(s + 1) * total]) for s in range(steps)]

def params_of(model):
    return [p.detach().numpy().astype(np.float64).copy() for p in model.parameters()]

def same_on_all_ranks(model):
    mine = np.concatenate([p.ravel() for p in params_of(model)])
    everyone = [None] * size
    dist.all_gather_object(everyone, mine)
    return all(np.array_equal(everyone[0], e) for e in everyone)

def ddp_training():
    steps, per_rank = 6, 16
    batches = digits_batches(steps, per_rank)
    nc.manual_seed(1234 + rank)  # different init on every rank: DDP must broadcast rank 0's
    model = digits_mlp(1234 + rank, nc.float32)
    # Overlap: a probe on the first layer's weight (its gradient comes last), registered before
    # DDP's hooks so it runs before DDP sees that gradient, records which buckets had already
    # been started: the later layers' buckets must be in flight while backward is still running.
    launched = []
    model[0].weight.register_post_accumulate_grad_hook(
        lambda p: launched.append([b.work is not None for b in ddp._reducer.buckets]))
    ddp = DDP(model, bucket_cap_mb=0.1)  # 3 buckets: (4.*, 2.bias), (2.weight,), (0.*)
    assert len(ddp.bucket_sizes) == 3, ddp.bucket_sizes
    opt = nc.optim.SGD(ddp.parameters(), lr=0.2, momentum=0.9)
    reference = digits_mlp(1234, nc.float32)
    ref_opt = nc.optim.SGD(reference.parameters(), lr=0.2, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    for x, y in batches:
        lo, hi = rank * per_rank, (rank + 1) * per_rank
        opt.zero_grad()
        loss_fn(ddp(to_nc(x[lo:hi])), to_nc(y[lo:hi])).backward()
        opt.step()
        ref_opt.zero_grad()
        loss_fn(reference(to_nc(x)), to_nc(y)).backward()
        ref_opt.step()
    assert launched and all(step == [True, True, False] for step in launched), launched
    assert same_on_all_ranks(model), "parameters differ between ranks"
    diff = max(float(np.abs(a - b).max()) for a, b in zip(params_of(model), params_of(reference)))
    assert diff <= 1e-6, f"DDP vs single-process on the combined batch: max |diff| {diff}"
    print(f"rank {rank} DDP OK maxdiff {diff:.3g}", flush=True)
    # checkpoint: rank 0 writes with a barrier; every rank reads it back into a fresh model
    path = sys.argv[2]
    dist.save_checkpoint(path, model=ddp.module, step=steps)
    fresh = digits_mlp(5, nc.float32)
    nc.checkpoint.load(path, model=fresh)
    assert all(np.array_equal(a, b) for a, b in zip(params_of(fresh), params_of(model)))
    np.save(path + f".rank{rank}.npy", np.concatenate([p.ravel() for p in params_of(model)]))
    print(f"rank {rank} CHECKPOINT OK", flush=True)

def no_sync_accumulation():
    micro, per_rank = 3, 8
    batches = digits_batches(micro, per_rank)
    model = digits_mlp(77, nc.float64)
    ddp = DDP(model)
    reference = digits_mlp(77, nc.float64)
    loss_fn = nn.CrossEntropyLoss()
    for k, (x, y) in enumerate(batches):
        lo, hi = rank * per_rank, (rank + 1) * per_rank
        xb, yb = to_nc(x[lo:hi]).to(nc.float64), to_nc(y[lo:hi])
        if k < micro - 1:
            with ddp.no_sync():
                (loss_fn(ddp(xb), yb) / micro).backward()
            local = [p.grad.numpy().copy() for p in model.parameters()]
        else:
            (loss_fn(ddp(xb), yb) / micro).backward()
    # the large-batch step: every micro-batch of every rank at once
    xs = np.concatenate([x for x, _ in batches])
    ys = np.concatenate([y for _, y in batches])
    loss_fn(reference(to_nc(xs).to(nc.float64)), to_nc(ys)).backward()
    diff = max(float(np.abs(p.grad.numpy() - q.grad.numpy()).max())
               for p, q in zip(model.parameters(), reference.parameters()))
    assert diff <= 1e-10, f"no_sync accumulation vs large batch: max |diff| {diff}"
    # inside no_sync the gradients stayed local (they differ between ranks)
    everyone = [None] * size
    dist.all_gather_object(everyone, local[0])
    assert not np.array_equal(everyone[0], everyone[1])
    print(f"rank {rank} NO_SYNC OK maxdiff {diff:.3g}", flush=True)

class TwoHeads(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Linear(4, 4)
        self.head_a = nn.Linear(4, 2)
        self.head_b = nn.Linear(4, 2)

    def forward(self, x, use_b):
        h = self.body(x)
        return self.head_b(h) if use_b else self.head_a(h)

def unused_parameters():
    nc.manual_seed(3)
    model = TwoHeads()
    ddp = DDP(model, find_unused_parameters=True)
    x = nc.ones(2, 4)
    # rank 0 uses head_a, the others head_b; nobody uses head_b on one step
    ddp(x, use_b=rank > 0).sum().backward()
    a_grad = model.head_a.weight.grad
    b_grad = model.head_b.weight.grad
    ones = np.ones((2, 4))
    h = model.body(nc.ones(1, 4)).detach().numpy()
    np.testing.assert_allclose(a_grad.numpy(), 2 * np.tile(h, (2, 1)) / size, rtol=1e-5)
    np.testing.assert_allclose(b_grad.numpy(), 2 * np.tile(h, (2, 1)) * (size - 1) / size, rtol=1e-5)
    assert same_on_all_ranks(model)
    for p in model.parameters():
        p.grad = None
    ddp(x, use_b=False).sum().backward()
    assert model.head_b.weight.grad is None  # unused by every rank: left untouched
    print(f"rank {rank} UNUSED OK", flush=True)
    # without find_unused_parameters the next forward reports the parameters that got no gradient
    strict = DDP(TwoHeads())
    strict(x, use_b=False).sum().backward()
    try:
        strict(x, use_b=False)
    except RuntimeError as e:
        assert "head_b.weight" in str(e) and "find_unused_parameters" in str(e), e
        print(f"rank {rank} UNUSED REPORTED", flush=True)
    else:
        raise AssertionError("no error for unused parameters")

def model_mismatch():
    model = nn.Linear(4, 3 + rank)
    try:
        DDP(model)
    except RuntimeError as e:
        print(f"rank {rank} MODEL MISMATCH: {e}", flush=True)

def failure():
    kind = sys.argv[2]
    t = nc.ones(1000)
    dist.all_reduce(t)  # everyone is connected
    if rank == 1:
        if kind == "raise":
            raise ValueError("injected failure on rank 1")
        if kind == "hang":
            time.sleep(600)
        if kind == "kill":
            os.kill(os.getpid(), 9)
    print(f"rank {rank} WAITING", flush=True)
    start = time.perf_counter()
    try:
        dist.all_reduce(t)
    except dist.DistBackendError as e:
        print(f"rank {rank} STOPPED after {time.perf_counter() - start:.1f}s: {e}", flush=True)
        raise

{"collectives": collectives, "ddp": ddp_training, "no_sync": no_sync_accumulation,
 "unused": unused_parameters, "model_mismatch": model_mismatch, "failure": failure}[mode]()
dist.destroy_process_group()
'''


def launcher_flags():
    """Open MPI's mpirun: allow root (CI containers), more ranks than cores, shared memory or TCP
    between ranks, and waiting ranks yield their core (ranks share 2 cores here; spinning ones
    made each small all-reduce wait a scheduler time slice). MPICH's (hydra) needs none."""
    version = subprocess.run([MPIRUN, "--version"], capture_output=True, text=True).stdout
    if "Open MPI" in version or "OpenRTE" in version:
        return ["--allow-run-as-root", "--oversubscribe", "--mca", "btl", "self,vader,tcp",
                "--mca", "mpi_yield_when_idle", "1"]
    return []


def run_ranks(tmp_path, ranks, *args, timeout=120, env=None):
    """Runs DISTRIBUTED_PROGRAM under mpirun; returns (returncode, output, seconds). A run past
    ``timeout`` is killed (the whole process group) and fails the test."""
    program = tmp_path / "distributed_program.py"
    program.write_text(DISTRIBUTED_PROGRAM)
    cmd = [MPIRUN, *launcher_flags(), "-n", str(ranks), sys.executable, str(program), *map(str, args)]
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=tmp_path,
                            env=child_env(OMPI_MCA_rmaps_base_oversubscribe="1", **(env or {})),
                            start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        pytest.fail(f"mpirun -n {ranks} {' '.join(map(str, args))} did not finish within {timeout} s:\n{out}")
    return proc.returncode, out, time.perf_counter() - start


@needs_mpi
@pytest.mark.parametrize("ranks", [2, 3])
def test_collectives_match_numpy(tmp_path, ranks):
    rc, out, _ = run_ranks(tmp_path, ranks, "collectives")
    assert rc == 0, out
    for r in range(ranks):
        assert f"rank {r} COLLECTIVES OK" in out, out
    assert "all_reduce: the tensor has shape (3, 4) and dtype float32 on rank 0 but shape (3, 5)" in out, out
    assert f"on rank {ranks - 1} (ranks that differ from rank 0: [{ranks - 1}])" in out, out


@needs_mpi
@pytest.mark.parametrize("ranks", [2, 3])
def test_ddp_matches_single_process_on_combined_batch(tmp_path, ranks):
    pytest.importorskip("sklearn")
    path = tmp_path / "ckpt.safetensors"
    rc, out, _ = run_ranks(tmp_path, ranks, "ddp", path)
    assert rc == 0, out
    for r in range(ranks):
        assert f"rank {r} DDP OK" in out and f"rank {r} CHECKPOINT OK" in out, out
    # the checkpoint loads in this (single) process too: any world size
    from nn_core import nn
    model = nn.Sequential(nn.Linear(64, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 10))
    nc.checkpoint.load(str(path), model=model)
    flat = np.concatenate([p.detach().numpy().ravel() for p in model.parameters()])
    np.testing.assert_array_equal(flat, np.load(str(path) + ".rank0.npy").astype(np.float32))


@needs_mpi
def test_ddp_no_sync_accumulation_equals_large_batch(tmp_path):
    pytest.importorskip("sklearn")
    rc, out, _ = run_ranks(tmp_path, 2, "no_sync")
    assert rc == 0, out
    assert "rank 0 NO_SYNC OK" in out and "rank 1 NO_SYNC OK" in out, out


@needs_mpi
def test_ddp_unused_parameters(tmp_path):
    rc, out, _ = run_ranks(tmp_path, 2, "unused")
    assert rc == 0, out
    for r in range(2):
        assert f"rank {r} UNUSED OK" in out and f"rank {r} UNUSED REPORTED" in out, out


@needs_mpi
def test_ddp_different_models_named(tmp_path):
    rc, out, _ = run_ranks(tmp_path, 2, "model_mismatch")
    assert rc == 0, out
    assert "parameter 0 is 'weight' of shape (3, 4) and dtype float32 on rank 0 but 'weight' of shape (4, 4)" in out
    assert "on rank 1" in out, out


@needs_mpi
@pytest.mark.parametrize("kind", ["raise", "hang", "kill"])
def test_failed_rank_stops_the_others_within_timeout(tmp_path, kind):
    """rank 1 raises / hangs / is killed while rank 0 waits in all_reduce with a 4 s timeout:
    the job ends (nonzero) well within the test's own limit, and rank 0 says why."""
    rc, out, seconds = run_ranks(tmp_path, 2, "failure", kind, timeout=60, env={"DIST_TIMEOUT": "4"})
    assert rc != 0, out
    assert seconds < 30, (seconds, out)
    if kind == "raise":
        assert "injected failure on rank 1" in out, out
        assert "rank 0 STOPPED" in out and "rank 1 failed (ValueError: injected failure on rank 1)" in out, out
    elif kind == "hang":
        assert "rank 0 STOPPED" in out and "timed out after 4 s on rank 0 of 2" in out, out
    else:  # the launcher or the timeout stops rank 0
        assert "rank 0 STOPPED" in out or "signal 9" in out or "Killed" in out, out


def test_distributed_sampler_shards_pad_and_shuffle():
    data = TensorDataset(nc.arange(10))
    shards = [list(DistributedSampler(data, num_replicas=3, rank=r, seed=5)) for r in range(3)]
    assert all(len(s) == 4 for s in shards)
    together = sorted(i for s in shards for i in s)
    assert set(together) == set(range(10)) and len(together) == 12  # two padded from the start
    again = [list(DistributedSampler(data, num_replicas=3, rank=r, seed=5)) for r in range(3)]
    assert again == shards  # same seed, same epoch: same order on every rank
    s = DistributedSampler(data, num_replicas=3, rank=0, seed=5)
    s.set_epoch(1)
    assert list(s) != shards[0]
    dropped = [list(DistributedSampler(data, num_replicas=3, rank=r, drop_last=True)) for r in range(3)]
    assert all(len(d) == 3 for d in dropped) and len(set(sum(dropped, []))) == 9
    plain = [list(DistributedSampler(data, num_replicas=4, rank=r, shuffle=False)) for r in range(4)]
    assert plain == [[0, 4, 8], [1, 5, 9], [2, 6, 0], [3, 7, 1]]
    loader = DataLoader(data, batch_size=2, sampler=DistributedSampler(data, num_replicas=2, rank=1, shuffle=False))
    assert [b[0].numpy().tolist() for b in loader] == [[1, 3], [5, 7], [9]]
    with pytest.raises(ValueError, match="invalid rank 3"):
        DistributedSampler(data, num_replicas=3, rank=3)
    with pytest.raises(RuntimeError, match="init_process_group"):
        DistributedSampler(data)


@pytest.mark.skipif(nc.cuda.is_available(), reason="the nccl backend's error is for machines without CUDA support")
def test_nccl_backend_reports_what_is_missing():
    with pytest.raises(RuntimeError, match="nccl backend needs the CUDA backend / a GPU"):
        dist.init_process_group("nccl")
    assert not dist.is_initialized()
    with pytest.raises(ValueError, match="unknown backend"):
        dist.init_process_group("gloo")
    with pytest.raises(RuntimeError, match="has not been initialized"):
        dist.get_rank()


def test_engine_buffers_are_views_where_possible_and_staged_otherwise():
    from nn_core.distributed._common import Buffer
    t = nc.ones(10)
    b = Buffer(t, reduce=True)
    assert b.zero_copy and b.array.ctypes.data == t.data_ptr()  # MPI reads and writes the tensor itself
    half = nc.ones(4).to(nc.float16)
    assert Buffer(half).zero_copy  # moved as bytes
    staged = Buffer(half, reduce=True)  # MPI has no float16 arithmetic: reduced in float32
    assert not staged.zero_copy and staged.array.dtype == np.float32
    staged.array[:] = 3
    staged.write_back()
    assert half.float().numpy().tolist() == [3.0] * 4
    for t in (nc.arange(12.0).reshape(3, 4).t(), nc.arange(6.0).to(nc.bfloat16), nc.tensor([True, False])):
        b = Buffer(t, reduce=True)
        assert not b.zero_copy and b.array.flags["C_CONTIGUOUS"]
        expected = b.array * 2 if t.dtype != nc.bool else np.array([1, 1], np.uint8)
        b.array[...] = expected
        b.write_back()
        got = t.float().numpy() if t.dtype == nc.bfloat16 else t.numpy()
        np.testing.assert_array_equal(got, expected.astype(got.dtype))
