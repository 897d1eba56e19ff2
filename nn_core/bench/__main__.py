"""``python -m nn_core.bench``: run the benchmark cases, compare two runs, chart a history.

Commands:
  run      time the cases (nn_core beside its peers, in the same process and rounds) and
           write a results file; ``--mode instructions`` counts instructions instead
  compare  the changes between two results files; exit status 1 on a regression
  report   each case's time and peer ratios over several results files (PNG, HTML)

Reading the results: a case's time is per call, the minimum (and median) over rounds;
"ratio" is ours / peer in the same run and rounds (below 1: nn_core is faster), which
stays meaningful on a busy machine where absolute times move. "other CPUs busy" says
how loaded the machine was while a case ran: above about 0.2 on a 2-core machine, the
2-thread figures of that case are not trustworthy. Instruction counts are repeatable to
the instruction and are the right tool on shared machines; they ignore memory stalls and
run one thread.
"""
from __future__ import annotations

import argparse
import sys

EPILOG = __doc__.split("Reading the results:", 1)[1]


def _parse_threshold(text: str) -> float:
    text = text.strip()
    value = float(text[:-1]) / 100 if text.endswith("%") else float(text)
    if value < 0:
        raise argparse.ArgumentTypeError("the threshold must be >= 0")
    return value


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m nn_core.bench", description=__doc__.split("\n\n")[0],
                                     epilog="Reading the results:" + EPILOG,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run", help="run the cases and write a results file")
    r.add_argument("--suite", choices=["quick", "full"], default="quick")
    r.add_argument("-k", dest="pattern", default=None, help="only cases whose name contains this text")
    r.add_argument("--peers", default="numpy,torch", help="comma-separated: numpy, torch (those installed are used)")
    r.add_argument("--threads", type=int, default=None, help="threads for nn_core and the peers (default: nn_core's)")
    r.add_argument("--rounds", type=int, default=None, help="rounds per case (default 7; 1 with instructions)")
    r.add_argument("--mode", choices=["time", "instructions"], default="time")
    r.add_argument("--out", required=True, help="the results file to write (JSON)")
    r.add_argument("--no-progress", action="store_true")
    c = sub.add_parser("compare", help="compare two results files (exit 1 on a regression)")
    c.add_argument("base")
    c.add_argument("new")
    c.add_argument("--threshold", type=_parse_threshold, default=0.05, help="e.g. 5%% or 0.05 (default 5%%)")
    p = sub.add_parser("report", help="chart several results files")
    p.add_argument("files", nargs="+")
    p.add_argument("--out", required=True, help="PNG file to write")
    p.add_argument("--html", default=None, help="also write an HTML page")
    k = sub.add_parser("_count", help=argparse.SUPPRESS)
    k.add_argument("--case", required=True)
    k.add_argument("--iterations", type=int, required=True)
    args = parser.parse_args(argv)

    if args.command == "_count":
        from .counting import child_main
        child_main(args.case, args.iterations)
        return 0
    if args.command == "run":
        from .run import format_table, run, save
        peers = [p.strip() for p in args.peers.split(",") if p.strip()]
        unknown = set(peers) - {"numpy", "torch"}
        if unknown:
            parser.error(f"unknown peers {sorted(unknown)} (known: numpy, torch)")
        results = run(args.suite, args.pattern, peers, args.threads, args.rounds, args.mode,
                      progress=not args.no_progress)
        save(results, args.out)
        print(format_table(results))
        print(f"wrote {args.out}")
        return 0
    if args.command == "compare":
        from .compare import compare, format_changes
        from .run import load
        base, new = load(args.base), load(args.new)
        changes = compare(base, new, args.threshold)
        print(format_changes(changes, base["context"], new["context"]))
        return 1 if any(ch.verdict == "regression" for ch in changes) else 0
    from .report import report
    from .run import load
    docs = [load(f) for f in args.files]
    report(docs, [f"{i}: {d['context'].get('git_commit') or ''}"[:14] for i, d in enumerate(docs)], args.out,
           args.html)
    print(f"wrote {args.out}" + (f" and {args.html}" if args.html else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
