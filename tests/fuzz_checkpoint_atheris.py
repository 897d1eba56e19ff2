"""Coverage-guided fuzzing of the checkpoint reader (nn_core.load) with atheris (libFuzzer).

One input = one file's bytes, loaded from io.BytesIO; the first byte picks verify=True/False
(checksum checked or skipped, so the structural checks are reached past the checksum too).
Allowed outcomes: a loaded object (whose tensors are then read in full, so a bad view or
offset is touched) or CheckpointError / ValueError. Anything else (another exception, a
crash, an ASan/UBSan report under the sanitizer build) is a finding: libFuzzer stops and
writes the input to crash-<sha1>.

The seed corpus (written to the corpus directory when it is empty) holds valid files from
nn_core.save: a nested object of every dtype, a flat dict, an empty dict, plus one file
with a re-signed checksum, so mutations start from the format's real structure.

  python tests/fuzz_checkpoint_atheris.py CORPUS_DIR -max_total_time=3600 -max_len=16384
  python tests/fuzz_checkpoint_atheris.py CORPUS_DIR -runs=3000            (short, as the test suite)

Under the sanitizer build see docs/sanitizers.md (LD_PRELOAD of libasan, PYTHONPATH).
"""
import io
import os
import sys

import atheris

with atheris.instrument_imports(include=["nn_core"]):
    import numpy as np
    import nn_core as nc
    from nn_core.serialization import CheckpointError


def seed_files():
    """{name: bytes} of valid checkpoints that start the corpus."""
    g = np.random.default_rng(0)
    objects = {
        "nested": {"w": nc.tensor(g.standard_normal((3, 5))), "b": nc.zeros(5).to(nc.bfloat16),
                   "h": nc.tensor(g.standard_normal(4)).half(), "i": nc.arange(7, dtype=nc.int32),
                   "l": nc.arange(3, dtype=nc.int64), "e": nc.empty(0, 2), "m": nc.tensor([True, False]),
                   "q": nc.arange(4, dtype=nc.int8), "u": nc.arange(6, dtype=nc.uint8),
                   "opt": {"state": {0: {"step": 3}}, "groups": [{"lr": 0.1, "params": [0]}]},
                   "x": [1.5, None, "s", (2,)]},
        "flat": {"a": nc.ones(2, 3), "b": nc.arange(5).double()},
        "empty": {},
    }
    out = {}
    for name, obj in objects.items():
        buffer = io.BytesIO()
        nc.save(obj, buffer)
        out[name] = buffer.getvalue()
    return out


def _touch(value):
    """Reads every tensor of a loaded object in full (nested dicts, lists, tuples)."""
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, dict):
            stack.extend(v.values())
        elif isinstance(v, (list, tuple)):
            stack.extend(v)
        elif isinstance(v, nc.Tensor):
            t = v.float() if v.dtype in (nc.bfloat16, nc.float16) else v
            t.contiguous().numpy().sum()


def test_one_input(data: bytes):
    if not data:
        return
    verify = bool(data[0] & 1)
    try:
        loaded = nc.load(io.BytesIO(data[1:]), verify=verify)
    except (CheckpointError, ValueError):
        return
    _touch(loaded)


def main(argv):
    corpus = [a for a in argv[1:] if not a.startswith("-")]
    if corpus and os.path.isdir(corpus[0]) and not os.listdir(corpus[0]):
        for name, data in seed_files().items():
            for flag in (b"\x01", b"\x00"):  # verify=True and verify=False variants
                with open(os.path.join(corpus[0], f"seed_{name}_{flag[0]}"), "wb") as f:
                    f.write(flag + data)
    atheris.Setup(argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main(sys.argv)
