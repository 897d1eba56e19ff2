"""``report``: each case's time and ratio to its peers over a series of results files, as
a PNG (matplotlib) and an HTML page holding the same figure and a table."""
from __future__ import annotations

import base64
import html
import io
from typing import List, Sequence


def _series(docs: Sequence[dict]):
    cases: List[str] = []
    for d in docs:
        for b in d["benchmarks"]:
            if b["name"] not in cases:
                cases.append(b["name"])
    return cases


def report(docs: Sequence[dict], labels: Sequence[str], out_png: str, out_html: str = None) -> None:
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise RuntimeError("report needs matplotlib (pip install matplotlib)") from None
    cases = _series(docs)
    instructions = docs[0].get("mode") == "instructions"
    fig, axes = plt.subplots(len(cases), 2, figsize=(11, 2.3 * len(cases)), squeeze=False)
    xs = list(range(len(docs)))
    for row, case in enumerate(cases):
        values, ratios = [], {}
        for d in docs:
            b = next((b for b in d["benchmarks"] if b["name"] == case), None)
            values.append(None if b is None else b["stats"]["median"])
            for peer, info in ({} if b is None else b["extra_info"]["peers"]).items():
                ratios.setdefault(peer, [None] * len(docs))[docs.index(d)] = info["ratio"]
        ax = axes[row][0]
        scale, unit = (1.0, "instructions") if instructions else (1e6, "us")
        ax.plot(xs, [None if v is None else v * scale for v in values], marker="o")
        ax.set_title(case, fontsize=9)
        ax.set_ylabel(unit, fontsize=8)
        ax = axes[row][1]
        for peer, r in ratios.items():
            ax.plot(xs, r, marker="o", label=peer)
        ax.axhline(1.0, color="grey", lw=0.8, ls="--")
        ax.set_ylabel("ours / peer", fontsize=8)
        if ratios:
            ax.legend(fontsize=7)
        for ax in axes[row]:
            ax.set_xticks(xs)
            ax.set_xticklabels(labels, fontsize=7, rotation=20)
    fig.tight_layout()
    fig.savefig(out_png, dpi=90)
    if out_html:
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=90)
        img = base64.b64encode(buf.getvalue()).decode("ascii")
        rows = "".join(
            f"<tr><td>{html.escape(label)}</td><td>{html.escape(str(d['context'].get('git_commit') or ''))[:10]}</td>"
            f"<td>{html.escape(d['context']['cpu_model'])}</td><td>{d['context']['threads']}</td>"
            f"<td>{html.escape(d['context']['isa'])}</td><td>{html.escape(d['datetime'])}</td></tr>"
            for label, d in zip(labels, docs))
        with open(out_html, "w") as f:
            f.write("<!doctype html><meta charset='utf-8'><title>nn_core benchmark history</title>"
                    "<h1>nn_core benchmark history</h1><p>Left: nn_core's median per call; right: ours / peer "
                    "(below 1: nn_core faster).</p><table border=1><tr><th>run</th><th>commit</th><th>cpu</th>"
                    f"<th>threads</th><th>isa</th><th>date</th></tr>{rows}</table>"
                    f"<img src='data:image/png;base64,{img}'>")
    plt.close(fig)
