"""The build's layers (CMakeLists.txt: one object library per directory of csrc/, linked
downward only): every #include in csrc/ names a header of its own layer or of a layer it
links, and the include roots the build gives a layer really hide the layers above it (a
probe that includes an upper layer's header does not compile; one that includes a lower
layer's header does)."""
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CMAKE = ROOT / "CMakeLists.txt"
pytestmark = pytest.mark.skipif(not (ROOT / "csrc").is_dir(), reason="no csrc/ in this checkout")


def layers():
    """{layer: set of the layers it links (transitively)}, from the nn_core_layer(...) calls."""
    direct = {}
    for m in re.finditer(r"^nn_core_layer\((\w+)([^)]*)\)", CMAKE.read_text(), re.M):
        direct[m.group(1)] = set(m.group(2).split())
    closed = {}
    for name in direct:
        seen, todo = set(), list(direct[name])
        while todo:
            d = todo.pop()
            if d not in seen:
                seen.add(d)
                todo += direct[d]
        closed[name] = seen
    return closed


def test_every_csrc_directory_is_a_layer():
    dirs = {p.name for p in (ROOT / "csrc").iterdir() if p.is_dir()}
    assert dirs == set(layers()), "a csrc/ directory without its nn_core_layer(...) in CMakeLists.txt, or the reverse"


def test_includes_go_downward_only():
    deps = layers()
    bad = []
    for layer in deps:
        for f in sorted((ROOT / "csrc" / layer).rglob("*")):
            if f.suffix not in (".h", ".cpp"):
                continue
            for no, line in enumerate(f.read_text().splitlines(), 1):
                m = re.match(r'\s*#\s*include\s+"(\w+)/', line)
                if m and m.group(1) in deps and m.group(1) != layer and m.group(1) not in deps[layer]:
                    bad.append(f"{f.relative_to(ROOT)}:{no}: {line.strip()} ({layer} does not link {m.group(1)})")
    assert not bad, "upward includes:\n" + "\n".join(bad)


@pytest.mark.skipif(shutil.which("c++") is None, reason="no C++ compiler")
def test_an_upward_include_does_not_compile(tmp_path):
    """The mechanism: include roots as CMakeLists.txt builds them (<root>/<layer> -> csrc/<layer>)."""
    gen = tmp_path / "generated"
    subprocess.run([sys.executable, str(ROOT / "tools" / "gen_ops.py"), str(ROOT / "csrc" / "ops" / "ops.schema"),
                    str(gen)], check=True)
    deps = layers()

    def flags(layer):
        out = []
        for name in [layer] + sorted(deps[layer]):
            root = tmp_path / "layers" / name
            if not root.exists():
                root.mkdir(parents=True)
                (root / name).symlink_to(ROOT / "csrc" / name)
            out.append(f"-I{root}")
        return out + [f"-I{gen}"]

    def compiles(layer, header):
        probe = tmp_path / "csrc_probe" / layer / "probe.cpp"  # where a file of the layer would be
        probe.parent.mkdir(parents=True, exist_ok=True)
        probe.write_text(f'#include "{header}"\n')
        r = subprocess.run(["c++", "-std=c++17", "-fsyntax-only", *flags(layer), str(probe)],
                           capture_output=True, text=True)
        return r.returncode == 0, r.stderr

    for layer, header in [("cpu", "ops/ops.h"), ("kernels", "cpu/kernels.h"), ("core", "autograd/node.h"),
                          ("autograd", "ops/ops.h"), ("ops", "runtime/graph.h"), ("ops", "cpu/kernels.h")]:
        ok, err = compiles(layer, header)
        assert not ok and "No such file" in err, f"{layer} can include {header}"
    for layer, header in [("cpu", "kernels/dispatch.h"), ("ops", "ops/ops.h"), ("runtime", "ops/ops.h")]:
        ok, err = compiles(layer, header)
        assert ok, f"{layer} cannot include {header}:\n{err[:2000]}"
