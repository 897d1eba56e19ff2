"""OpInfo entries of the attention area (op table rows NN_ATTENTION_OPS):
scaled_dot_product_attention, layer_norm, rms_norm, embedding, dropout — float64 NumPy
references and sample generators in the conventions of tests/op_db.py / samples.py.
(The seeded dropout itself is tested in tests/test_norm_embedding.py; here dropout runs
with p in {0, 1} or training=False, where the result is deterministic.)"""
import numpy as np
from hypothesis import strategies as st

import nn_core as nc
import samples as S
from samples import Dom, Sample, TArg

F = nc.functional
SMALL_DOM = Dom(-1.5, 1.5)  # scores stay moderate, so no probability underflows in half types


# ---- references ---------------------------------------------------------------------

def ref_sdpa(q, k, v, attn_mask=None, is_causal=False, scale=None):
    if q.ndim != 4 or k.ndim != 4 or v.ndim != 4:
        raise ValueError("sdpa: q, k, v must be 4-D")
    B, Hq, Lq, D = q.shape
    _, Hkv, Lk, _ = k.shape
    if k.shape[0] != B or v.shape[0] != B or v.shape[1] != Hkv or v.shape[2] != Lk or k.shape[3] != D:
        raise ValueError("sdpa: shapes")
    if (Hkv == 0) != (Hq == 0) or (Hkv > 0 and Hq % Hkv):
        raise ValueError("sdpa: heads")
    if Hkv and Hkv != Hq:
        k, v = np.repeat(k, Hq // Hkv, axis=1), np.repeat(v, Hq // Hkv, axis=1)
    scale = 1 / np.sqrt(D) if scale is None else scale
    s = np.matmul(q, np.swapaxes(k, -1, -2)) * scale
    if attn_mask is not None:
        if attn_mask.ndim > 4:
            raise ValueError("sdpa: mask dims")
        target = (B, Hq, Lq, Lk)
        for a, b in zip(attn_mask.shape[::-1], target[::-1]):
            if a not in (1, b):
                raise ValueError("sdpa: mask shape")
        s = np.where(attn_mask, s, -np.inf) if attn_mask.dtype == bool else s + attn_mask
    if is_causal:
        s = np.where(np.tril(np.ones((Lq, Lk), bool)), s, -np.inf)
    any_vis = np.isfinite(s).any(-1, keepdims=True) if Lk else np.zeros(s.shape[:-1] + (1,), bool)
    s = np.where(any_vis, s, 0.0)
    with np.errstate(all="ignore"):
        p = np.exp(s - (s.max(-1, keepdims=True) if Lk else 0))
        p = np.where(any_vis, p / p.sum(-1, keepdims=True), 0.0)
    return np.matmul(p, v)


def _sdpa_mag(q, k, v, attn_mask=None, is_causal=False, scale=None):
    # out = sum_j p_j v_j: its rounding error scales with sum_j p_j |v_j| <= max |v|.
    if v.ndim != 4:
        return None
    return np.broadcast_to(np.abs(v).max() if v.size else 0.0, q.shape[:3] + v.shape[3:])


def ref_layer_norm(x, shape, weight=None, bias=None, eps=1e-5):
    shape = tuple(shape)
    n = len(shape)
    if n < 1 or n > x.ndim or x.shape[x.ndim - n:] != shape or any(
            t is not None and t.shape != shape for t in (weight, bias)):
        raise ValueError("layer_norm: shapes")
    axes = tuple(range(x.ndim - n, x.ndim))
    if x.size == 0:
        return np.zeros(x.shape)
    mu = x.mean(axes, keepdims=True)
    y = (x - mu) / np.sqrt(((x - mu) ** 2).mean(axes, keepdims=True) + eps)
    return y * (1 if weight is None else weight) + (0 if bias is None else bias)


def ref_rms_norm(x, shape, weight=None, eps=None):
    shape = tuple(shape)
    n = len(shape)
    if n < 1 or n > x.ndim or x.shape[x.ndim - n:] != shape or (weight is not None and weight.shape != shape):
        raise ValueError("rms_norm: shapes")
    eps = np.finfo(np.float64).eps if eps is None else eps
    axes = tuple(range(x.ndim - n, x.ndim))
    if x.size == 0:
        return np.zeros(x.shape)
    return x / np.sqrt((x ** 2).mean(axes, keepdims=True) + eps) * (1 if weight is None else weight)


def _norm_mag(x, shape, weight=None, *rest, **kw):
    # normalised values are O(1) per element times |w| (+ |b|): a per-element scale.
    w = 1.0 if weight is None else np.abs(weight)
    return np.broadcast_to(4.0 * w + 1.0, x.shape) if x.size else None


def ref_embedding(idx, weight, padding_idx=None):
    if weight.ndim != 2:
        raise ValueError("embedding: weight must be 2-D")
    V = weight.shape[0]
    if padding_idx is not None and not -V <= padding_idx < V:
        raise ValueError("embedding: padding_idx")
    if idx.size and (idx.min() < 0 or idx.max() >= V):
        raise IndexError("embedding: index out of range")
    return weight[idx]


def ref_dropout(x, p=0.5, training=True):
    if not 0 <= p <= 1:
        raise ValueError("dropout: p")
    return np.zeros_like(x) if (training and p == 1) else x


# ---- samples ------------------------------------------------------------------------

def s_sdpa(draw, dt, m):
    sz = st.sampled_from((1, 2, 3) if m.small else (0, 1, 2, 7, 17, 33))
    B, Hkv, Lq, Lk = draw(st.sampled_from((1, 2))), draw(st.sampled_from((1, 2))), draw(sz), draw(sz)
    Hq = Hkv * draw(st.sampled_from((1, 2)))
    D = draw(st.sampled_from((1, 2, 3) if m.small else (1, 3, 16, 24)))
    Dv = D if draw(st.booleans()) else draw(st.sampled_from((1, 2, 5)))
    if m.fuzz and draw(st.integers(0, 3)) == 0:
        Hq += 1
    q = S.tensor(draw, m, (B, Hq, Lq, D), dt, SMALL_DOM, expand=False)
    k = S.tensor(draw, m, (B, Hkv, Lk, D), dt, SMALL_DOM, expand=False)
    v = S.tensor(draw, m, (B, Hkv, Lk, Dv), dt, expand=False)
    kind = draw(st.sampled_from(["none", "bool", "float", "padding"]))
    kw = {}
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    if kind == "bool":
        kw["attn_mask"] = TArg(rng.random((Lq, Lk)) < 0.7, "bool", role="mask")
    elif kind == "float":
        kw["attn_mask"] = TArg(S.quantize(rng.normal(0, 1, (1, Hq, Lq, Lk)), dt), dt, role="mask")
    elif kind == "padding":
        kw["attn_mask"] = TArg(rng.random((B, 1, 1, Lk)) < 0.8, "bool", role="mask")
    if draw(st.booleans()):
        kw["is_causal"] = True
    if draw(st.integers(0, 3)) == 0:
        kw["scale"] = 0.7
    return Sample(q, k, v, dt=dt, **kw)


def _norm_sample(with_bias):
    def sample(draw, dt, m):
        shp = S.shape(draw, m, min_ndim=1, max_ndim=3)
        n = draw(st.integers(1, len(shp)))
        norm_shape = list(shp[len(shp) - n:])
        if m.fuzz and draw(st.integers(0, 4)) == 0:
            norm_shape = [s + 1 for s in norm_shape]
        x = S.tensor(draw, m, shp, dt)
        w = S.tensor(draw, m, tuple(norm_shape), dt) if draw(st.booleans()) else None
        kw = {}
        if with_bias and draw(st.booleans()):
            kw["bias"] = S.tensor(draw, m, tuple(norm_shape), dt)
        kw["eps"] = draw(st.sampled_from([1e-5, 1e-3])) if with_bias else draw(st.sampled_from([None, 1e-6, 1e-3]))
        if not with_bias and kw["eps"] is None and dt != "float64":
            kw["eps"] = 1e-6  # the default eps is the dtype's epsilon; the reference uses a fixed one
        return Sample(x, norm_shape, w, dt=dt, **kw)
    return sample


def s_embedding(draw, dt, m):
    V = draw(st.sampled_from((1, 3, 7) if m.small else (1, 5, 33)))
    Dm = draw(st.sampled_from((1, 2, 3) if m.small else (0, 1, 4, 17)))
    n = draw(st.sampled_from((1, 2, 3) if m.small else (0, 1, 5, 40)))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    hi = V + (2 if m.fuzz and draw(st.integers(0, 3)) == 0 else 0)
    idx = TArg(rng.integers(0, hi, (n, 2)), "int64", role="index")
    w = S.tensor(draw, m, (V, Dm), dt, expand=False)
    # The padding row gets no gradient by definition (not the numerical derivative), so
    # gradcheck samples (small mode) leave padding_idx out; test_norm_embedding checks it.
    pad = None if m.small else draw(st.sampled_from([None, 0, -1]))
    return Sample(idx, w, padding_idx=pad, dt=dt)


def s_dropout(draw, dt, m):
    x = S.tensor(draw, m, S.shape(draw, m), dt)
    p, training = draw(st.sampled_from([(0.0, True), (1.0, True), (0.5, False)] + ([(1.5, True)] if m.fuzz else [])))
    return Sample(x, p=p, training=training, dt=dt)


def _opinfo():
    from op_db import COMPOSITE_HALF_TOL, OpInfo
    return [
        # mag: out = sum_j p_j v_j, so errors scale with max|v| (_sdpa_mag); half types
        # round q/k/v inputs (exact in the reference) and the output once.
        OpInfo("scaled_dot_product_attention", "special", F.scaled_dot_product_attention, ref_sdpa, s_sdpa,
               mag=_sdpa_mag),
        # mag: outputs are normalised O(1) values times |w| + |b| (_norm_mag); statistics
        # are accumulated in double, so float32 meets the default tolerance.
        OpInfo("layer_norm", "special", F.layer_norm, ref_layer_norm, _norm_sample(True), mag=_norm_mag,
               tol=COMPOSITE_HALF_TOL),
        OpInfo("rms_norm", "special", F.rms_norm, ref_rms_norm, _norm_sample(False), mag=_norm_mag,
               tol=COMPOSITE_HALF_TOL),
        OpInfo("embedding", "special", F.embedding, ref_embedding, s_embedding),
        OpInfo("dropout", "special", F.dropout, ref_dropout, s_dropout),
    ]


OPS_ATTENTION = _opinfo()
