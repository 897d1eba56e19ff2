"""Checkpoint fault tolerance: SIGKILL during saves, and hypothesis-mutated files.

* Fault injection: a child process saves checkpoints in a loop through CheckpointManager and is killed with
  SIGKILL at random moments (>= 50 times); after each kill the newest checkpoint the manager reports must
  verify and hold exactly what the child saved for that step, and no temporary file may count as one.
* Fuzz: valid files are mutated (truncated, bits flipped, bytes spliced, the header length rewritten, the
  header JSON rewritten with bad offsets / overlaps / unknown dtypes / wrong shapes, re-signed so that the
  structural checks rather than the checksum must catch them); every load returns identical content or
  raises CheckpointError, and allocates little beyond the file size (nn_core's allocator and tracemalloc).
"""
import json
import os
import random
import signal
import subprocess
import sys
import time
import tracemalloc
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import nn_core as nc
from nn_core import serialization
from nn_core.checkpoint import CheckpointManager
from nn_core.serialization import CheckpointError

from test_checkpoint import assert_same

HERE = Path(__file__).resolve().parent

# ---- fault injection ---------------------------------------------------------------------------------------
# The child's state at step s is fully determined by s, so the parent can check a checkpoint's contents.
CHILD = r"""
import sys
import nn_core as nc
from nn_core.checkpoint import CheckpointManager

def state(step):
    return {"w": nc.full((512, 1024), float(step)), "b": nc.arange(1000) + step, "h": nc.full((3,), step).half()}

mgr = CheckpointManager(sys.argv[1], keep=3)
steps = mgr.steps()
step = steps[-1] + 1 if steps else 0
print("ready", flush=True)
while True:
    mgr.save(step, model=state(step), note={"step": step})
    step += 1
"""


def expected_state(step):
    return {"w": nc.full((512, 1024), float(step)), "b": nc.arange(1000) + step, "h": nc.full((3,), step).half()}


def test_sigkill_during_saves_never_exposes_a_bad_checkpoint(tmp_path):
    rnd = random.Random(1234)
    ckdir = tmp_path / "ckpts"
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    # The child imports the same nn_core as this process (the installed one in CI, the
    # in-place build in a developer tree), never the source tree by accident.
    env = dict(os.environ, PYTHONPATH=str(Path(nc.__file__).resolve().parent.parent), PYTHONSAFEPATH="1")
    kills, temp_seen, steps_seen = 0, 0, set()
    files_before = 0  # checkpoints on disk when the current child started
    while kills < 60:
        proc = subprocess.Popen([sys.executable, str(script), str(ckdir)], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, env=env, cwd=tmp_path)
        line = proc.stdout.readline()
        if line != b"ready\n":
            proc.kill()
            _, err = proc.communicate()
            raise AssertionError(f"child did not start: {line!r}\n{err.decode(errors='replace')[-3000:]}")
        time.sleep(rnd.uniform(0.0, 0.12))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
        proc.stderr.close()
        kills += 1
        names = os.listdir(ckdir)
        temp_seen += sum(n.endswith(".tmp") for n in names)
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # a checkpoint failing verification would warn: fail instead
            mgr = CheckpointManager(ckdir, keep=3)  # also removes the dead child's temp files
            latest = mgr.latest()
        assert not any(n.endswith(".tmp") for n in os.listdir(ckdir))
        if latest is None:
            assert mgr.steps() == []
            continue
        steps_seen.add(latest)
        ck = nc.checkpoint.load(mgr.path(latest), restore_rng=False)
        assert ck.step == latest and ck.objects["note"] == {"step": latest}
        assert_same(expected_state(latest), ck.objects["model"])
        # Each completed save prunes to keep=3; a kill between writing a file and pruning
        # leaves one more. A child killed before its first prune adds to what it found.
        assert len(mgr.steps()) <= max(files_before, 3) + 1
        files_before = len(mgr.steps())
    print(f"{kills} kills, {temp_seen} temp files left by killed saves, {len(steps_seen)} distinct newest steps")
    assert temp_seen > 0, "no kill landed inside a save: the test did not exercise what it should"
    assert len(steps_seen) > 10


# ---- fuzz ----------------------------------------------------------------------------------------------------
def _base_object():
    g = np.random.default_rng(0)
    return {
        "model": {"w": nc.tensor(g.standard_normal((4, 6))), "b": nc.zeros(6).to(nc.bfloat16),
                  "h": nc.tensor(g.standard_normal(5)).half(), "i": nc.arange(9, dtype=nc.int32),
                  "e": nc.empty(0, 3), "m": nc.tensor([True, False, True])},
        "opt": {"state": {0: {"buf": nc.tensor(g.standard_normal((4, 6))).double(), "step": 3}},
                "param_groups": [{"lr": 0.1, "params": [0]}]},
        "np": np.arange(7, dtype=np.uint32), "u8": nc.arange(5, dtype=nc.uint8), "x": [1.5, None, "s", (2,)],
    }


BASE_OBJ = _base_object()


def _split(data: bytes):
    n = int.from_bytes(data[:8], "little")
    return json.loads(data[8:8 + n]), data[8 + n:]


def _join(header: dict, payload: bytes, resign: bool) -> bytes:
    if resign and isinstance(header.get("__metadata__"), dict):
        header["__metadata__"]["nn_core.checksum"] = serialization._checksum(header, [payload])
    text = json.dumps(header).encode()
    return len(text).to_bytes(8, "little") + text + payload


def _base_bytes(tmp_path_factory) -> bytes:
    path = tmp_path_factory.mktemp("base") / "base.safetensors"
    nc.save(BASE_OBJ, path)
    return path.read_bytes()


@pytest.fixture(scope="module")
def base_bytes(tmp_path_factory):
    return _base_bytes(tmp_path_factory)


def _mutate_header(header: dict, payload: bytes, kind: str, r: random.Random):
    names = [k for k in header if k != "__metadata__"]
    name = r.choice(names)
    e = header[name]
    size = len(payload)
    if kind == "offsets_out_of_range":
        e["data_offsets"] = [e["data_offsets"][0], size + r.randint(1, 2 ** 40)]
    elif kind == "offsets_negative":
        e["data_offsets"] = [-r.randint(1, 100), e["data_offsets"][1]]
    elif kind == "overlap":
        other = header[r.choice(names)]
        e["data_offsets"] = list(other["data_offsets"])
    elif kind == "shift":
        d = r.randint(-16, 16)
        e["data_offsets"] = [o + d for o in e["data_offsets"]]
    elif kind == "unknown_dtype":
        e["dtype"] = r.choice(["F8", "C64", "f32", "", "U4", 3, None])
    elif kind == "dtype_swap":
        e["dtype"] = r.choice(["F32", "F64", "F16", "BF16", "I8", "U8", "I32", "I64", "BOOL", "U32", "I16"])
    elif kind == "shape":
        e["shape"] = r.choice([[], [0], [2 ** 62, 2 ** 62], [-1, 4], [True], [1.5], "4", [10 ** 30], [1] * 5000,
                               list(reversed(e["shape"])), [s + 1 for s in e["shape"]]])
    elif kind == "drop_entry":
        del header[name]
    elif kind == "extra_field":
        e["extra"] = 1
    elif kind == "entry_not_dict":
        header[name] = r.choice([[1, 2], "x", None, 5])
    elif kind == "metadata":
        header["__metadata__"] = r.choice([None, [], {"a": 1}, "str", {}])
    elif kind == "tree":
        meta = header["__metadata__"]
        meta["nn_core.tree"] = r.choice([
            "{", "[]", '{"T":"nope"}', '{"Q":1}', '{"D":[[1]]}', '{"A":"model/b"}', '{"T":"np"}',
            '{"D":[[{"L":[]},1]]}', '{"B":"!!"}', '{"F":"zero"}', "[" * 100000 + "]" * 100000,
            '{"L":' * 5000 + "[]" + "}" * 5000, '{"T":"model/w","g":2}', "1e999999", "9" * 5000])
    elif kind == "format":
        header["__metadata__"]["nn_core.format"] = r.choice(["2", "", "1.0"])
    elif kind == "no_checksum":
        header["__metadata__"].pop("nn_core.checksum")
    return header


HEADER_KINDS = ["offsets_out_of_range", "offsets_negative", "overlap", "shift", "unknown_dtype", "dtype_swap", "shape",
                "drop_entry", "extra_field", "entry_not_dict", "metadata", "tree", "format", "no_checksum"]


@st.composite
def mutations(draw):
    kind = draw(st.sampled_from(["truncate", "flip", "splice", "insert_delete", "header_len", "header"]))
    return kind, draw(st.integers(0, 2 ** 32 - 1)), draw(st.booleans()), draw(st.sampled_from(HEADER_KINDS))


def _apply(data: bytes, kind: str, seed: int, resign: bool, header_kind: str) -> bytes:
    r = random.Random(seed)
    b = bytearray(data)
    if kind == "truncate":
        return bytes(b[:r.randrange(len(b))])
    if kind == "flip":
        for _ in range(r.randint(1, 8)):
            pos = r.randrange(len(b)) if r.random() < 0.5 else r.randrange(min(len(b), 600))  # header is hot
            b[pos] ^= 1 << r.randrange(8)
        return bytes(b)
    if kind == "splice":
        a = r.randrange(len(b))
        piece = b[a:a + r.randint(1, 64)]
        c = r.randrange(len(b))
        b[c:c + len(piece)] = piece
        return bytes(b[:len(data)])
    if kind == "insert_delete":
        pos = r.randrange(len(b))
        if r.random() < 0.5:
            del b[pos:pos + r.randint(1, 16)]
        else:
            b[pos:pos] = bytes(r.randrange(256) for _ in range(r.randint(1, 16)))
        return bytes(b)
    if kind == "header_len":
        n = int.from_bytes(data[:8], "little")
        new = r.choice([0, 1, 2, n - 1, n + 1, n + 8, len(data), len(data) - 8, 2 ** 63, 2 ** 64 - 1,
                        r.randrange(2 ** 64), 100 * 1024 * 1024 + 1])
        return new.to_bytes(8, "little") + data[8:]
    header, payload = _split(data)
    return _join(_mutate_header(header, payload, header_kind, r), payload, resign)


def _load_guarded(path: Path, verify: bool, mmap: bool):
    """Loads, returning (value or CheckpointError, nn_core peak growth, tracemalloc peak)."""
    nc.reset_peak_memory_stats()
    in_use = nc.memory_stats()["bytes_in_use"]
    tracemalloc.start()
    try:
        try:
            out = nc.load(path, verify=verify, mmap=mmap)
        except CheckpointError as e:
            out = e
        _, py_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return out, nc.memory_stats()["peak_bytes"] - in_use, py_peak


@pytest.mark.isolated
@settings(max_examples=400)
@given(m=mutations(), mmap=st.booleans())
def test_fuzz_mutated_files(tmp_path_factory, m, mmap):
    data = FUZZ_BASE.get("bytes") or FUZZ_BASE.setdefault("bytes", _base_bytes(tmp_path_factory))
    kind, seed, resign, header_kind = m
    mutated = _apply(data, kind, seed, resign, header_kind)
    path = tmp_path_factory.mktemp("fuzz") / "m.safetensors"
    path.write_bytes(mutated)
    size = len(mutated)
    for verify in (True, False):
        out, nc_peak, py_peak = _load_guarded(path, verify, mmap)
        # allocations stay near the file size: no buffer sized from untrusted header numbers
        assert nc_peak <= size + 4096, (kind, header_kind, nc_peak, size)
        assert py_peak <= 40 * size + (1 << 20), (kind, header_kind, py_peak, size)
        if isinstance(out, CheckpointError):
            assert str(out)
            continue
        if verify and not (kind == "header" and resign):
            # not re-signed: either the checksum caught the change or the content is exactly the original
            assert_same(BASE_OBJ, out)


FUZZ_BASE = {}


# ---- each listed failure, deterministically, with its message -------------------------------------------------
@pytest.mark.parametrize("case, match", [
    ("truncated", "exceeds|cover|not within"), ("empty", "shorter than"), ("flipped_payload", "checksum mismatch"),
    ("huge_header_len", "exceeds"), ("header_not_json", "not valid JSON"),
    ("offsets_out_of_range", "not within"), ("overlap", "overlaps"), ("hole", "hole|cover"),
    ("unknown_dtype", "unknown dtype"), ("shape_mismatch", "needs .* bytes"), ("bad_tree", "tree"),
    ("missing_checksum", "no checksum"),
])
def test_each_corruption_is_named(base_bytes, tmp_path, case, match):
    header, payload = _split(base_bytes)
    if case == "truncated":
        data = base_bytes[:-10]
    elif case == "empty":
        data = b""
    elif case == "flipped_payload":
        data = bytearray(base_bytes)
        data[-3] ^= 4
        data = bytes(data)
    elif case == "huge_header_len":
        data = (2 ** 63).to_bytes(8, "little") + base_bytes[8:]
    elif case == "header_not_json":
        data = base_bytes[:8] + b"{" + b"x" * (int.from_bytes(base_bytes[:8], "little") - 1) + payload
    else:
        name = "model/w"
        if case == "offsets_out_of_range":
            header[name]["data_offsets"][1] += 10 ** 6
        elif case == "overlap":
            header[name]["data_offsets"] = list(header["opt/state/0/buf"]["data_offsets"])  # both (4, 6) F64
        elif case == "hole":
            del header["u8"]
        elif case == "unknown_dtype":
            header[name]["dtype"] = "F8_E4M3"
        elif case == "shape_mismatch":
            header[name]["shape"] = [4, 7]
        elif case == "bad_tree":
            header["__metadata__"]["nn_core.tree"] = '{"T":"missing"}'
        elif case == "missing_checksum":
            del header["__metadata__"]["nn_core.checksum"]
        data = _join(header, payload, resign=case != "missing_checksum")
    (tmp_path / "f.safetensors").write_bytes(data)
    with pytest.raises(CheckpointError, match=match):
        nc.load(tmp_path / "f.safetensors")


def test_verify_false_skips_only_the_checksum(base_bytes, tmp_path):
    data = bytearray(base_bytes)
    data[-3] ^= 4
    (tmp_path / "f.safetensors").write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="checksum"):
        nc.load(tmp_path / "f.safetensors")
    nc.load(tmp_path / "f.safetensors", verify=False)  # loads (content differs), structure still checked
