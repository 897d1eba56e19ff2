"""The spatial ops and layers (nn_core/_spatial.py, nn_core/nn/spatial.py; csrc/ops/spatial*.cpp)
beyond what the op harness (tests/op_db_spatial.py) covers:

  - the fast upsample kernels against their plain references (forward and backward, every
    mode, odd and non-integer-scale sizes, float32 / float64);
  - agreement with torch.nn.functional when torch is installed (skipped otherwise):
    outputs and gradients of interpolate, pad, pixel_shuffle, unfold / fold, grid_sample,
    affine_grid, the 1-D pools, adaptive max pools, conv_transpose1d and instance_norm, on odd sizes,
    non-contiguous inputs, float32 and float64; the modules with torch state_dicts;
  - bad inputs raise clear errors naming the op and the rule.
Fixed seeds (numpy default_rng)."""
import warnings

import numpy as np
import pytest

import nn_core as nc
import nn_core.nn as nn
from nn_core import functional as F

DTYPES = {"float32": (nc.float32, 1e-5), "float64": (nc.float64, 1e-12)}


def npy(x):
    return np.asarray(x.detach().double().numpy())


def noncontig(a, dtype, requires_grad=False):
    """An nn_core view holding a's values whose last two dims are transposed in memory
    (a leaf `base` that gets the gradient, and the view)."""
    base = nc.tensor(np.ascontiguousarray(np.swapaxes(a, -1, -2)), dtype=dtype, requires_grad=requires_grad)
    return base, base.transpose(-1, -2)


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


@pytest.fixture
def torch():
    return pytest.importorskip("torch")


def torch_dtype(torch, name):
    return getattr(torch, name)


# ---- fast kernels against their references -------------------------------------------------

UPSAMPLE_CASES = [
    # (input shape, output size, mode, align_corners, scales)
    ((2, 3, 5, 7), [10, 14], "nearest", False, (None, None)),
    ((2, 3, 5, 7), [9, 4], "nearest", False, (None, None)),
    ((1, 2, 4, 6), [6, 10], "nearest", False, (1.7, 1.7)),
    ((2, 3, 5, 7), [11, 3], "nearest-exact", False, (None, None)),
    ((2, 3, 5, 7), [10, 14], "bilinear", False, (2.0, 2.0)),
    ((2, 3, 5, 7), [8, 11], "bilinear", False, (1.7, 1.6)),
    ((2, 3, 5, 7), [8, 11], "bilinear", True, (None, None)),
    ((1, 1, 1, 1), [3, 5], "bilinear", True, (None, None)),
    ((3, 2, 9, 4), [4, 2], "bilinear", False, (None, None)),
    ((2, 3, 13), [29], "linear", False, (None, 2.3)),
    ((2, 3, 13), [5], "linear", True, (None, None)),
    ((2, 3, 13), [26], "nearest", False, (None, None)),
    ((2, 3, 5, 7), [10, 14], "bicubic", False, (2.0, 2.0)),
    ((2, 3, 5, 7), [8, 3], "bicubic", True, (None, None)),
    ((1, 2, 4, 9), [7, 13], "bicubic", False, (1.9, 1.5)),
]


@pytest.mark.parametrize("dtype", list(DTYPES))
@pytest.mark.parametrize("case", UPSAMPLE_CASES, ids=lambda c: f"{c[2]}-{c[0]}-{c[1]}-ac{int(c[3])}")
def test_upsample_fast_matches_reference(case, dtype, rng):
    shape, size, mode, align, (sh, sw) = case
    dt, tol = DTYPES[dtype]
    x64 = rng.standard_normal(shape)
    g64 = rng.standard_normal(shape[:2] + tuple(size))
    outs, grads = [], []
    for reference in (False, True):
        x = nc.tensor(x64, dtype=dt, requires_grad=True)
        y = nc._C.ops.upsample(x, size, mode, align, sh, sw, reference)
        (y * nc.tensor(g64, dtype=dt)).sum().backward()
        outs.append(npy(y))
        grads.append(npy(x.grad))
    np.testing.assert_allclose(outs[0], outs[1], rtol=tol, atol=tol)
    np.testing.assert_allclose(grads[0], grads[1], rtol=10 * tol, atol=10 * tol)


def test_upsample_fast_matches_reference_random_sizes(rng):
    """60 random shapes, sizes, scales and modes (float64: the two must agree to rounding)."""
    for _ in range(60):
        mode = str(rng.choice(["nearest", "nearest-exact", "bilinear", "bicubic", "linear"]))
        spatial = 1 if mode == "linear" else 2
        shape = (int(rng.integers(1, 3)), int(rng.integers(1, 4))) + tuple(int(v) for v in rng.integers(1, 12, spatial))
        size = [int(v) for v in rng.integers(1, 25, spatial)]
        scales = [float(rng.uniform(0.3, 3.0)) if rng.random() < 0.5 else None for _ in range(2)]
        align = bool(rng.integers(2)) and not mode.startswith("nearest")
        x64, g64 = rng.standard_normal(shape), rng.standard_normal(shape[:2] + tuple(size))
        results = []
        for reference in (False, True):
            x = nc.tensor(x64, dtype=nc.float64, requires_grad=True)
            y = nc._C.ops.upsample(x, size, mode, align, scales[0], scales[1], reference)
            (y * nc.tensor(g64, dtype=nc.float64)).sum().backward()
            results.append((npy(y), npy(x.grad)))
        what = f"{mode} {shape} -> {size} scales={scales} align_corners={align}"
        np.testing.assert_allclose(results[0][0], results[1][0], rtol=1e-12, atol=1e-12, err_msg=what)
        # gradients: the fast kernel sums in another order (folded rows), and bicubic sums cancel
        np.testing.assert_allclose(results[0][1], results[1][1], rtol=1e-9, atol=1e-9, err_msg=what)


def test_upsample_large_plane_threads_match_reference(rng):
    """Big enough for the row-parallel forward to split planes between threads."""
    x64 = rng.standard_normal((1, 2, 67, 131))
    x = nc.tensor(x64, dtype=nc.float32)
    before = nc.get_num_threads()
    try:
        nc.set_num_threads(2)
        for mode in ("nearest", "bilinear"):
            fast = npy(nc._C.ops.upsample(x, [134, 262], mode, False, 2.0, 2.0, False))
            ref = npy(nc._C.ops.upsample(x, [134, 262], mode, False, 2.0, 2.0, True))
            np.testing.assert_allclose(fast, ref, rtol=1e-6, atol=1e-6)
    finally:
        nc.set_num_threads(before)


# ---- torch agreement: interpolate ------------------------------------------------------------

INTERP_CASES = [
    ((2, 3, 5, 7), dict(scale_factor=2, mode="nearest")),
    ((2, 3, 5, 7), dict(size=(9, 4), mode="nearest")),
    ((2, 3, 5, 7), dict(scale_factor=1.7, mode="nearest")),
    ((2, 3, 5, 7), dict(scale_factor=(2.5, 0.6), mode="nearest-exact")),
    ((2, 3, 5, 7), dict(size=(11, 3), mode="nearest-exact")),
    ((2, 3, 5, 7), dict(scale_factor=2, mode="bilinear", align_corners=False)),
    ((2, 3, 5, 7), dict(scale_factor=2, mode="bilinear", align_corners=True)),
    ((2, 3, 5, 7), dict(scale_factor=1.7, mode="bilinear")),
    ((2, 3, 5, 7), dict(scale_factor=1.7, mode="bilinear", recompute_scale_factor=True)),
    ((2, 3, 5, 7), dict(size=(3, 13), mode="bilinear", align_corners=True)),
    ((2, 3, 9, 8), dict(scale_factor=0.5, mode="bilinear")),
    ((1, 1, 1, 1), dict(size=(4, 3), mode="bilinear", align_corners=True)),
    ((2, 3, 5, 7), dict(scale_factor=2, mode="bicubic")),
    ((2, 3, 5, 7), dict(size=(9, 4), mode="bicubic", align_corners=True)),
    ((2, 3, 5, 7), dict(scale_factor=1.7, mode="bicubic")),
    ((2, 3, 9, 8), dict(scale_factor=(0.5, 2.5), mode="bicubic", align_corners=False)),
    ((2, 3, 7, 10), dict(scale_factor=1.1, mode="bilinear")),  # H keeps its size: copied, scale ignored
    ((2, 3, 7, 10), dict(scale_factor=1.1, mode="bicubic")),  # ... but bicubic uses the scale
    ((2, 3, 13), dict(scale_factor=1.01, mode="linear")),
    ((2, 3, 9, 8), dict(size=(4, 3), mode="area")),
    ((2, 3, 9, 8), dict(scale_factor=0.6, mode="area")),
    ((2, 3, 11), dict(scale_factor=0.5, mode="area")),
    ((2, 3, 11), dict(scale_factor=1.5, mode="linear")),
    ((2, 3, 11), dict(size=4, mode="linear", align_corners=True)),
    ((2, 3, 11), dict(scale_factor=3, mode="nearest")),
    ((2, 3, 11), dict(size=7, mode="nearest-exact")),
    ((1, 2, 3, 4, 5), dict(scale_factor=2, mode="nearest")),
    ((1, 2, 3, 4, 5), dict(size=(5, 3, 7), mode="nearest-exact")),
    ((1, 2, 3, 4, 5), dict(scale_factor=(1.5, 2.0, 0.7), mode="nearest")),
    ((2, 2, 3, 4, 5), dict(scale_factor=2, mode="trilinear")),
    ((1, 2, 3, 4, 5), dict(size=(5, 4, 2), mode="trilinear", align_corners=True)),
    ((1, 3, 5, 2, 6), dict(scale_factor=(0.6, 1.7, 1.1), mode="trilinear")),
]


@pytest.mark.parametrize("dtype", list(DTYPES))
@pytest.mark.parametrize("shape,kw", INTERP_CASES, ids=[f"{c[1]['mode']}-{i}" for i, c in enumerate(INTERP_CASES)])
def test_interpolate_matches_torch(shape, kw, dtype, rng, torch):
    dt, tol = DTYPES[dtype]
    x64 = rng.standard_normal(shape)
    base, x = noncontig(x64, dt, requires_grad=True)
    y = F.interpolate(x, **kw)
    tx = torch.tensor(x64, dtype=torch_dtype(torch, dtype), requires_grad=True)
    ty = torch.nn.functional.interpolate(tx, **kw)
    assert tuple(y.shape) == tuple(ty.shape)
    np.testing.assert_allclose(npy(y), ty.detach().double().numpy(), rtol=tol, atol=tol)
    g64 = rng.standard_normal(tuple(ty.shape))
    (y * nc.tensor(g64, dtype=dt)).sum().backward()
    (ty * torch.tensor(g64, dtype=ty.dtype)).sum().backward()
    np.testing.assert_allclose(np.swapaxes(npy(base.grad), -1, -2), tx.grad.double().numpy(), rtol=10 * tol,
                               atol=10 * tol)


def test_upsample_modules_match_torch(rng, torch):
    x64 = rng.standard_normal((2, 3, 5, 6)).astype(np.float32)
    x, tx = nc.tensor(x64), torch.tensor(x64)
    pairs = [
        (nn.Upsample(scale_factor=2, mode="nearest"), torch.nn.Upsample(scale_factor=2, mode="nearest")),
        (nn.Upsample(size=(7, 9), mode="bilinear", align_corners=False),
         torch.nn.Upsample(size=(7, 9), mode="bilinear", align_corners=False)),
        (nn.UpsamplingNearest2d(scale_factor=3), torch.nn.UpsamplingNearest2d(scale_factor=3)),
        (nn.UpsamplingBilinear2d(size=(4, 11)), torch.nn.UpsamplingBilinear2d(size=(4, 11))),
        (nn.Upsample(scale_factor=1.5, mode="bicubic"), torch.nn.Upsample(scale_factor=1.5, mode="bicubic")),
    ]
    for ours, theirs in pairs:
        np.testing.assert_allclose(npy(ours(x)), theirs(tx).numpy(), rtol=1e-5, atol=1e-5)
        assert not list(ours.parameters()) and ours.state_dict() == {}


# ---- torch agreement: pad ----------------------------------------------------------------------

PAD_CASES = [
    ((2, 3, 5, 7), (1, 2), "constant", 0.5),
    ((2, 3, 5, 7), (1, 2, 0, 3), "constant", None),
    ((2, 3, 5, 7), (-1, 2, 3, -2), "constant", -1.0),
    ((2, 3, 5, 7), (1, 1, 1, 1, 1, 1), "constant", 2.0),
    ((3, 5, 7), (2, 3), "reflect", None),
    ((2, 3, 5, 7), (2, 3, 4, 1), "reflect", None),
    ((3, 5, 7), (6, 6, 4, 4), "reflect", None),
    ((2, 3, 5), (3, 1), "replicate", None),
    ((2, 3, 5, 7), (5, 0, 2, 6), "replicate", None),
    ((2, 3, 5, 7), (7, 2, 5, 1), "circular", None),
    ((2, 3, 5), (4, 5), "circular", None),
    ((1, 2, 3, 4, 5), (1, 2, 2, 1, 1, 1), "replicate", None),
    ((1, 2, 3, 4, 5), (1, 2, 2, 1, 1, 1), "reflect", None),
]


@pytest.mark.parametrize("dtype", list(DTYPES))
@pytest.mark.parametrize("shape,pad,mode,value", PAD_CASES, ids=[f"{c[2]}-{i}" for i, c in enumerate(PAD_CASES)])
def test_pad_matches_torch(shape, pad, mode, value, dtype, rng, torch):
    dt, tol = DTYPES[dtype]
    x64 = rng.standard_normal(shape)
    base, x = noncontig(x64, dt, requires_grad=True)
    kw = {} if value is None else dict(value=value)
    y = F.pad(x, pad, mode, **kw)
    tx = torch.tensor(x64, dtype=torch_dtype(torch, dtype), requires_grad=True)
    ty = torch.nn.functional.pad(tx, pad, mode, **kw)
    np.testing.assert_allclose(npy(y), ty.detach().double().numpy(), rtol=tol, atol=tol)
    g64 = rng.standard_normal(tuple(ty.shape))
    (y * nc.tensor(g64, dtype=dt)).sum().backward()
    (ty * torch.tensor(g64, dtype=ty.dtype)).sum().backward()
    np.testing.assert_allclose(np.swapaxes(npy(base.grad), -1, -2), tx.grad.double().numpy(), rtol=tol, atol=tol)


def test_pad_modules_match_torch(rng, torch):
    x2 = rng.standard_normal((2, 3, 6, 7)).astype(np.float32)
    x1 = rng.standard_normal((2, 3, 7)).astype(np.float32)
    T = torch.nn
    pairs = [
        (nn.ZeroPad2d(2), T.ZeroPad2d(2), x2), (nn.ZeroPad2d((1, 0, 2, 3)), T.ZeroPad2d((1, 0, 2, 3)), x2),
        (nn.ConstantPad1d(2, 3.5), T.ConstantPad1d(2, 3.5), x1),
        (nn.ConstantPad2d((1, 2, 3, 0), -1.0), T.ConstantPad2d((1, 2, 3, 0), -1.0), x2),
        (nn.ReflectionPad1d((3, 1)), T.ReflectionPad1d((3, 1)), x1), (nn.ReflectionPad2d(2), T.ReflectionPad2d(2), x2),
        (nn.ReplicationPad1d(4), T.ReplicationPad1d(4), x1),
        (nn.ReplicationPad2d((1, 2, 3, 4)), T.ReplicationPad2d((1, 2, 3, 4)), x2),
    ]
    for ours, theirs, x in pairs:
        np.testing.assert_allclose(npy(ours(nc.tensor(x))), theirs(torch.tensor(x)).numpy(), rtol=0, atol=0)
        np.testing.assert_allclose(npy(ours(nc.tensor(x[0]))), theirs(torch.tensor(x[0])).numpy(), rtol=0, atol=0)


# ---- torch agreement: pixel shuffle, unfold / fold -------------------------------------------

def test_pixel_shuffle_matches_torch(rng, torch):
    x64 = rng.standard_normal((2, 18, 3, 5))
    x = nc.tensor(x64, requires_grad=True)
    y = F.pixel_shuffle(x, 3)
    np.testing.assert_array_equal(npy(y), torch.nn.functional.pixel_shuffle(torch.tensor(x64), 3).numpy())
    back = F.pixel_unshuffle(y, 3)
    np.testing.assert_array_equal(npy(back), x64)
    np.testing.assert_array_equal(npy(nn.PixelUnshuffle(3)(y)), torch.nn.PixelUnshuffle(3)(
        torch.tensor(npy(y))).numpy())
    np.testing.assert_array_equal(npy(nn.PixelShuffle(3)(x[0])), torch.nn.PixelShuffle(3)(
        torch.tensor(x64[0])).numpy())
    (back * back).sum().backward()
    np.testing.assert_allclose(npy(x.grad), 2 * x64, rtol=1e-12)


UNFOLD_CASES = [
    ((2, 3, 7, 9), dict(kernel_size=3)),
    ((2, 3, 7, 9), dict(kernel_size=(2, 3), dilation=(2, 1), padding=(1, 2), stride=(2, 3))),
    ((1, 2, 5, 5), dict(kernel_size=5, padding=2)),
    ((2, 7, 8), dict(kernel_size=(3, 1), stride=2)),
]


@pytest.mark.parametrize("dtype", list(DTYPES))
@pytest.mark.parametrize("shape,kw", UNFOLD_CASES)
def test_unfold_fold_match_torch(shape, kw, dtype, rng, torch):
    dt, tol = DTYPES[dtype]
    tf = torch.nn.functional
    x64 = rng.standard_normal(shape)
    base, x = noncontig(x64, dt, requires_grad=True)
    cols = F.unfold(x, **kw)
    tx = torch.tensor(x64, dtype=torch_dtype(torch, dtype), requires_grad=True)
    tcols = tf.unfold(tx, **kw)
    np.testing.assert_allclose(npy(cols), tcols.detach().double().numpy(), rtol=tol, atol=tol)
    # fold of the columns (the adjoint): every pixel times the number of patches holding it
    out = F.fold(cols, shape[-2:], **kw)
    tout = tf.fold(tcols, shape[-2:], **kw)
    np.testing.assert_allclose(npy(out), tout.detach().double().numpy(), rtol=tol, atol=tol)
    g64 = rng.standard_normal(tuple(tout.shape))
    (out * nc.tensor(g64, dtype=dt)).sum().backward()
    (tout * torch.tensor(g64, dtype=tout.dtype)).sum().backward()
    np.testing.assert_allclose(np.swapaxes(npy(base.grad), -1, -2), tx.grad.double().numpy(), rtol=10 * tol,
                               atol=10 * tol)
    assert npy(nn.Unfold(**kw)(x)).shape == tuple(tcols.shape)
    np.testing.assert_allclose(npy(nn.Fold(shape[-2:], **kw)(cols)), tout.detach().double().numpy(), rtol=tol,
                               atol=tol)


# ---- torch agreement: grid_sample, affine_grid -----------------------------------------------

@pytest.mark.parametrize("dtype", list(DTYPES))
@pytest.mark.parametrize("align_corners", [False, True])
@pytest.mark.parametrize("padding_mode", ["zeros", "border", "reflection"])
@pytest.mark.parametrize("mode", ["bilinear", "nearest"])
def test_grid_sample_matches_torch(mode, padding_mode, align_corners, dtype, rng, torch):
    dt, tol = DTYPES[dtype]
    x64 = rng.standard_normal((2, 3, 5, 7))
    grid64 = rng.uniform(-1.6, 1.6, (2, 4, 6, 2))
    base, x = noncontig(x64, dt, requires_grad=True)
    grid = nc.tensor(grid64, dtype=dt, requires_grad=True)
    kw = dict(mode=mode, padding_mode=padding_mode, align_corners=align_corners)
    y = F.grid_sample(x, grid, **kw)
    tx = torch.tensor(x64, dtype=torch_dtype(torch, dtype), requires_grad=True)
    tg = torch.tensor(grid64, dtype=tx.dtype, requires_grad=True)
    ty = torch.nn.functional.grid_sample(tx, tg, **kw)
    np.testing.assert_allclose(npy(y), ty.detach().double().numpy(), rtol=10 * tol, atol=10 * tol)
    g64 = rng.standard_normal(tuple(ty.shape))
    (y * nc.tensor(g64, dtype=dt)).sum().backward()
    (ty * torch.tensor(g64, dtype=ty.dtype)).sum().backward()
    np.testing.assert_allclose(np.swapaxes(npy(base.grad), -1, -2), tx.grad.double().numpy(), rtol=10 * tol,
                               atol=10 * tol)
    np.testing.assert_allclose(npy(grid.grad), tg.grad.double().numpy(), rtol=100 * tol, atol=100 * tol)


@pytest.mark.parametrize("align_corners", [False, True])
def test_affine_grid_matches_torch(align_corners, rng, torch):
    theta64 = rng.standard_normal((3, 2, 3))
    for size in [(3, 2, 5, 7), (3, 1, 1, 4)]:
        theta = nc.tensor(theta64, dtype=nc.float64, requires_grad=True)
        grid = F.affine_grid(theta, size, align_corners=align_corners)
        tt = torch.tensor(theta64, requires_grad=True)
        with warnings.catch_warnings():  # torch warns about unit-size grids with align_corners=True
            warnings.simplefilter("ignore")
            tgrid = torch.nn.functional.affine_grid(tt, size, align_corners=align_corners)
        np.testing.assert_allclose(npy(grid), tgrid.detach().numpy(), rtol=1e-12, atol=1e-12)
        g64 = rng.standard_normal(tuple(tgrid.shape))
        (grid * nc.tensor(g64, dtype=nc.float64)).sum().backward()
        (tgrid * torch.tensor(g64)).sum().backward()
        np.testing.assert_allclose(npy(theta.grad), tt.grad.numpy(), rtol=1e-10, atol=1e-10)


def test_grid_sample_non_finite_grid_reads_nothing(rng):
    """inf / NaN grid coordinates sample outside the input (zeros) in every padding mode,
    and the backward stays finite where the grid is finite; nothing crashes."""
    x = nc.tensor(rng.standard_normal((1, 2, 4, 5)), requires_grad=True)
    g = np.zeros((1, 1, 4, 2))
    g[0, 0, :, 0] = [np.inf, -np.inf, np.nan, 0.25]
    grid = nc.tensor(g, requires_grad=True)
    for mode in ("bilinear", "nearest"):
        for padding_mode in ("zeros", "border", "reflection"):
            y = F.grid_sample(x, grid, mode=mode, padding_mode=padding_mode, align_corners=False)
            y.sum().backward()
            assert np.all(np.isfinite(npy(x.grad)))
            if padding_mode == "zeros":
                np.testing.assert_array_equal(npy(y)[..., :3], 0.0)


def test_upsample_inconsistent_scale_stays_inside(rng):
    """A direct call whose scale factor disagrees with the sizes (F.interpolate never makes
    one) clamps its source coordinates into the input, as PyTorch does; no stray access."""
    x = nc.tensor(rng.standard_normal((1, 2, 3, 4)), dtype=nc.float64, requires_grad=True)
    for mode in ("nearest", "nearest-exact", "bilinear", "bicubic"):
        for scale in (1e-300, 0.2, 1e300):
            for reference in (False, True):
                y = nc._C.ops.upsample(x, [7, 9], mode, False, scale, scale, reference)
                y.sum().backward()
                assert np.all(np.isfinite(npy(y))) and np.all(np.isfinite(npy(x.grad)))
                x.grad = None


def test_affine_grid_identity_resamples_exactly(rng):
    """The identity transform with matching align_corners reproduces the input."""
    x64 = rng.standard_normal((2, 3, 5, 7))
    x = nc.tensor(x64, dtype=nc.float64)
    theta = nc.tensor(np.tile(np.array([[1.0, 0, 0], [0, 1.0, 0]]), (2, 1, 1)), dtype=nc.float64)
    for align in (False, True):
        grid = F.affine_grid(theta, (2, 3, 5, 7), align_corners=align)
        np.testing.assert_allclose(npy(F.grid_sample(x, grid, align_corners=align)), x64, atol=1e-12)


# ---- torch agreement: 1-D pools, conv_transpose1d, instance norm -----------------------------

def test_pool1d_match_torch(rng, torch):
    x64 = rng.standard_normal((2, 3, 13))
    tf = torch.nn.functional
    tx = torch.tensor(x64, dtype=torch.float32, requires_grad=True)
    x = nc.tensor(x64, dtype=nc.float32, requires_grad=True)
    cases = [
        (lambda f, v: f.max_pool1d(v, 3), None),
        (lambda f, v: f.max_pool1d(v, 3, stride=2, padding=1, dilation=2, ceil_mode=True), None),
        (lambda f, v: f.avg_pool1d(v, 4, stride=3, padding=2, count_include_pad=False), None),
        (lambda f, v: f.avg_pool1d(v, 2, ceil_mode=True), None),
        (lambda f, v: f.adaptive_avg_pool1d(v, 5), None),
    ]
    for fn, _ in cases:
        x.grad, tx.grad = None, None
        y, ty = fn(F, x), fn(tf, tx)
        np.testing.assert_allclose(npy(y), ty.detach().double().numpy(), rtol=1e-6, atol=1e-6)
        y.sum().backward()
        ty.sum().backward()
        np.testing.assert_allclose(npy(x.grad), tx.grad.double().numpy(), rtol=1e-6, atol=1e-6)
    v, i = F.max_pool1d(x, 4, stride=3, return_indices=True)
    tv, ti = tf.max_pool1d(tx, 4, stride=3, return_indices=True)
    np.testing.assert_array_equal(np.asarray(i.numpy()), ti.numpy())
    ours = [nn.MaxPool1d(3, 2), nn.AvgPool1d(3, 2, 1), nn.AdaptiveAvgPool1d(4)]
    theirs = [torch.nn.MaxPool1d(3, 2), torch.nn.AvgPool1d(3, 2, 1), torch.nn.AdaptiveAvgPool1d(4)]
    for o, t_ in zip(ours, theirs):
        np.testing.assert_allclose(npy(o(x[0])), t_(tx[0]).detach().double().numpy(), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("dtype", list(DTYPES))
def test_adaptive_max_pool_matches_torch(dtype, rng, torch):
    dt, tol = DTYPES[dtype]
    tf = torch.nn.functional
    for shape, out in [((2, 3, 7, 9), (3, 4)), ((3, 5, 4), (5, 2)), ((1, 2, 6, 6), 1), ((2, 3, 5, 5), (None, 2))]:
        x64 = rng.standard_normal(shape)
        base, x = noncontig(x64, dt, requires_grad=True)
        v, i = F.adaptive_max_pool2d(x, out, return_indices=True)
        tx = torch.tensor(x64, dtype=torch_dtype(torch, dtype), requires_grad=True)
        tv, ti = tf.adaptive_max_pool2d(tx, out, return_indices=True)
        np.testing.assert_allclose(npy(v), tv.detach().double().numpy(), rtol=tol, atol=tol)
        np.testing.assert_array_equal(np.asarray(i.numpy()), ti.numpy())
        g64 = rng.standard_normal(tuple(tv.shape))
        (v * nc.tensor(g64, dtype=dt)).sum().backward()
        (tv * torch.tensor(g64, dtype=tv.dtype)).sum().backward()
        np.testing.assert_allclose(np.swapaxes(npy(base.grad), -1, -2), tx.grad.double().numpy(), rtol=tol, atol=tol)
    x64 = rng.standard_normal((2, 3, 11))
    np.testing.assert_allclose(npy(nn.AdaptiveMaxPool1d(4)(nc.tensor(x64, dtype=dt))),
                               torch.nn.AdaptiveMaxPool1d(4)(torch.tensor(x64)).numpy(), rtol=tol, atol=tol)
    np.testing.assert_allclose(npy(nn.AdaptiveMaxPool2d((2, 3))(nc.tensor(x64[None], dtype=dt))),
                               torch.nn.AdaptiveMaxPool2d((2, 3))(torch.tensor(x64[None])).numpy(), rtol=tol, atol=tol)


def test_conv_transpose1d_matches_torch(rng, torch):
    tm = torch.nn.ConvTranspose1d(4, 6, 3, stride=2, padding=1, output_padding=1, groups=2, dilation=2)
    m = nn.ConvTranspose1d(4, 6, 3, stride=2, padding=1, output_padding=1, groups=2, dilation=2)
    m.load_state_dict({k: nc.tensor(v.detach().numpy()) for k, v in tm.state_dict().items()})
    assert set(m.state_dict()) == set(tm.state_dict()) == {"weight", "bias"}
    x64 = rng.standard_normal((2, 4, 9)).astype(np.float32)
    x = nc.tensor(x64, requires_grad=True)
    tx = torch.tensor(x64, requires_grad=True)
    y, ty = m(x), tm(tx)
    np.testing.assert_allclose(npy(y), ty.detach().numpy(), rtol=1e-5, atol=1e-5)
    y.sum().backward()
    ty.sum().backward()
    np.testing.assert_allclose(npy(x.grad), tx.grad.numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(npy(m.weight.grad), tm.weight.grad.numpy(), rtol=1e-5, atol=1e-5)
    w = nc.tensor(tm.weight.detach().numpy())
    np.testing.assert_allclose(npy(F.conv_transpose1d(x[0], w, None, 2, 1, 1, 2, 2)),
                               torch.nn.functional.conv_transpose1d(tx[0], tm.weight, None, 2, 1, 1, 2, 2)
                               .detach().numpy(), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("cls,shape", [("InstanceNorm1d", (3, 4, 9)), ("InstanceNorm2d", (2, 4, 5, 6)),
                                       ("InstanceNorm2d", (4, 5, 6))])
@pytest.mark.parametrize("affine,track", [(False, False), (True, False), (True, True), (False, True)])
def test_instance_norm_matches_torch(cls, shape, affine, track, rng, torch):
    tm = getattr(torch.nn, cls)(4, affine=affine, track_running_stats=track, momentum=0.2)
    m = getattr(nn, cls)(4, affine=affine, track_running_stats=track, momentum=0.2)
    assert set(m.state_dict()) == set(tm.state_dict())
    if affine:
        with torch.no_grad():
            tm.weight.uniform_(0.5, 1.5)
            tm.bias.uniform_(-1, 1)
    m.load_state_dict({k: nc.tensor(v.detach().numpy()) for k, v in tm.state_dict().items()})
    for step in range(2):
        x64 = (rng.standard_normal(shape) * 2 + 1).astype(np.float32)
        x = nc.tensor(x64, requires_grad=True)
        tx = torch.tensor(x64, requires_grad=True)
        y, ty = m(x), tm(tx)
        np.testing.assert_allclose(npy(y), ty.detach().numpy(), rtol=1e-4, atol=1e-4)
        (y * y).sum().backward()
        (ty * ty).sum().backward()
        np.testing.assert_allclose(npy(x.grad), tx.grad.numpy(), rtol=1e-3, atol=1e-3)
    for k, v in tm.state_dict().items():
        np.testing.assert_allclose(npy(m.state_dict()[k]), v.detach().double().numpy(), rtol=1e-5, atol=1e-5)
    m.eval()
    tm.eval()
    x64 = rng.standard_normal(shape).astype(np.float32)
    np.testing.assert_allclose(npy(m(nc.tensor(x64))), tm(torch.tensor(x64)).detach().numpy(), rtol=1e-4,
                               atol=1e-4)


def test_instance_norm_functional_matches_numpy(rng):
    x64 = rng.standard_normal((2, 3, 4, 5))
    y = F.instance_norm(nc.tensor(x64, dtype=nc.float64), eps=1e-5)
    mean = x64.mean(axis=(2, 3), keepdims=True)
    var = x64.var(axis=(2, 3), keepdims=True)
    np.testing.assert_allclose(npy(y), (x64 - mean) / np.sqrt(var + 1e-5), rtol=1e-10, atol=1e-10)


# ---- errors ------------------------------------------------------------------------------------

def _x(*shape):
    return nc.zeros(*shape)


ERROR_CASES = [
    (lambda: F.interpolate(_x(1, 2, 3, 4), size=(4, 4), scale_factor=2), ValueError, "only one of size or scale"),
    (lambda: F.interpolate(_x(1, 2, 3, 4)), ValueError, "either size or scale_factor"),
    (lambda: F.interpolate(_x(1, 2, 3, 4), scale_factor=2, mode="bogus"), ValueError, "unknown mode 'bogus'"),
    (lambda: F.interpolate(_x(1, 2, 3, 4), scale_factor=2, mode="trilinear"), ValueError, "'trilinear' needs a 5-D"),
    (lambda: F.interpolate(_x(1, 2, 3, 4, 5), scale_factor=2, mode="bicubic"), NotImplementedError, "5-D input"),
    (lambda: F.interpolate(_x(1, 2, 3, 4, 5), scale_factor=2, mode="area"), NotImplementedError, "'area'"),
    (lambda: F.interpolate(_x(1, 2, 3), scale_factor=2, mode="bicubic"), ValueError, "'bicubic' needs a 4-D"),
    (lambda: F.interpolate(_x(1, 2, 3), scale_factor=2, mode="bilinear"), ValueError, "needs a 4-D input"),
    (lambda: F.interpolate(_x(1, 2, 3, 4), scale_factor=2, mode="linear"), ValueError, "needs a 3-D input"),
    (lambda: F.interpolate(_x(2, 3), scale_factor=2), ValueError, "3-D, 4-D or 5-D input"),
    (lambda: F.interpolate(_x(1, 2, 3, 4), size=(4, 4, 4)), ValueError, "same number of spatial dimensions"),
    (lambda: F.interpolate(_x(1, 2, 3, 4), scale_factor=0.1), ValueError, "greater than 0"),
    (lambda: F.interpolate(_x(1, 2, 3, 4), scale_factor=-2.0), ValueError, "positive"),
    (lambda: F.interpolate(_x(1, 2, 3, 4), scale_factor=2, align_corners=True), ValueError, "align_corners"),
    (lambda: F.interpolate(_x(1, 2, 3, 4), size=(5, 5), recompute_scale_factor=True), ValueError, "not meaningful"),
    (lambda: nc._C.ops.upsample(_x(1, 2, 3, 4), [4], "nearest", False, None, None), ValueError, "2 values"),
    (lambda: F.pad(_x(2, 3, 4), (4, 1), "reflect"), ValueError, "less than the corresponding input dimension"),
    (lambda: F.pad(_x(1, 2, 3, 4), (1, 2, 3)), ValueError, "must be even"),
    (lambda: F.pad(_x(3, 4), (1, 1, 1, 1, 1, 1)), ValueError, "at most twice"),
    (lambda: F.pad(_x(1, 2, 3, 4), (1, 1), "wrap"), ValueError, "mode must be"),
    (lambda: F.pad(_x(1, 2, 3, 4), (1, 1), "reflect", value=2.0), ValueError, "doesn't take in value"),
    (lambda: F.pad(_x(2, 2, 1, 3, 4), (1, 1), "replicate"), ValueError, "2-D or 3-D input"),
    (lambda: F.pad(_x(2, 3, 4), (5, 1), "circular"), ValueError, "more than once"),
    (lambda: F.pad(_x(1, 2, 3, 4), (-3, -2)), ValueError, "cannot be cropped"),
    (lambda: F.pixel_shuffle(_x(1, 5, 3, 4), 2), ValueError, "divisible by the square"),
    (lambda: F.pixel_shuffle(_x(4, 3), 2), ValueError, "at least 3 dims"),
    (lambda: F.pixel_unshuffle(_x(1, 1, 3, 4), 2), ValueError, "divisible by downscale_factor"),
    (lambda: F.unfold(_x(1, 2, 3, 4), 5), ValueError, "no patch fits"),
    (lambda: F.unfold(_x(3, 4), 2), ValueError, "3-D .* or 4-D"),
    (lambda: F.unfold(_x(1, 2, 3, 4), 2, stride=0), ValueError, "stride must be >= 1"),
    (lambda: F.fold(_x(1, 8, 5), (3, 4), 2), ValueError, "number of sliding blocks"),
    (lambda: F.fold(_x(1, 7, 6), (3, 4), 2), ValueError, "multiple of kernel_size"),
    (lambda: F.grid_sample(_x(1, 2, 3, 4), _x(1, 3, 3, 3)), ValueError, r"\(N, H_out, W_out, 2\)"),
    (lambda: F.grid_sample(_x(1, 2, 3, 4), _x(2, 3, 3, 2)), ValueError, "batch"),
    (lambda: F.grid_sample(_x(1, 2, 3), _x(1, 3, 3, 2)), ValueError, "4-D"),
    (lambda: F.grid_sample(_x(1, 2, 3, 4), _x(1, 3, 3, 2), mode="bicubic"), ValueError, "'bicubic' is not"),
    (lambda: F.grid_sample(_x(1, 2, 3, 4), _x(1, 3, 3, 2), padding_mode="mirror"), ValueError, "padding_mode"),
    (lambda: F.grid_sample(_x(1, 2, 3, 4), nc.zeros(1, 3, 3, 2, dtype=nc.float64)), TypeError, "one dtype"),
    (lambda: F.affine_grid(_x(2, 2, 3), (3, 1, 4, 4)), ValueError, r"\(N, 2, 3\)"),
    (lambda: F.affine_grid(_x(2, 3, 4), (2, 1, 4, 4, 4)), ValueError, "only 2-D sizes"),
    (lambda: F.max_pool1d(_x(1, 2, 3, 4), 2), ValueError, "2-D .* or 3-D"),
    (lambda: F.adaptive_max_pool2d(_x(2, 3), 2), ValueError, "3-D .* or 4-D"),
    (lambda: F.adaptive_max_pool2d(_x(1, 2, 3, 4), (0, 2)), ValueError, "output_size must be >= 1"),
    (lambda: F.conv_transpose1d(_x(1, 2, 5), _x(2, 3, 3, 1)), ValueError, "weight must be 3-D"),
    (lambda: F.instance_norm(_x(2, 3)), ValueError, "at least 3 dims"),
    (lambda: nn.InstanceNorm2d(3, affine=True)(_x(1, 4, 5, 5)), ValueError, "expected 3 channels"),
    (lambda: nn.ReflectionPad2d(1)(_x(5, 5)), ValueError, "3-D or 4-D input"),
]


@pytest.mark.parametrize("call,exc,match", ERROR_CASES, ids=[c[2][:30] for c in ERROR_CASES])
def test_bad_inputs_raise_clear_errors(call, exc, match):
    with pytest.raises(exc, match=match):
        call()
