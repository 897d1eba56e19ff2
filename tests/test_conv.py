"""Convolution kernels against their direct-loop references, pooling / normalization
details the op harness (tests/op_db_conv.py) does not cover, the nn layers, and (when
torch is installed) agreement with torch.nn.functional.

The fast paths (im2col + packed GEMM, pointwise, depthwise; forward, input and weight
gradients) run in float32 and are compared with nn_core._C._conv2d_reference /
_conv2d_backward_reference evaluated in float64 on the same values; every
stride / padding / dilation combination up to 3 is covered, on every GEMM ISA path."""
import itertools
import warnings

import numpy as np
import pytest

import nn_core as nc
import nn_core.nn as nn
from nn_core import functional as F

C = nc._C


def t(a, dtype=nc.float32, requires_grad=False):
    return nc.tensor(np.asarray(a), dtype=dtype, requires_grad=requires_grad)


def npy(x):
    return np.asarray(x.detach().double().numpy())


def check_conv(rng, x_shape, w_shape, bias=True, relu=False, noncontig=False, **kw):
    """Forward and all three gradients of float32 conv2d vs the float64 references."""
    x64 = rng.uniform(-1, 1, x_shape)
    w64 = rng.uniform(-1, 1, w_shape)
    b64 = rng.uniform(-1, 1, (w_shape[0],)) if bias else None
    if noncontig:  # a transposed, stepped view holding the same values
        base = np.zeros(x_shape[:2] + (x_shape[3] * 2, x_shape[2]))
        base[:, :, ::2, :] = x64.transpose(0, 1, 3, 2)
        xb = t(base, requires_grad=True)
        x = xb[:, :, ::2, :].transpose(2, 3)
    else:
        xb = x = t(x64, requires_grad=True)
    w = t(w64, requires_grad=True)
    b = t(b64, requires_grad=True) if bias else None
    y = C.conv2d(x, w, b, relu=relu, **kw)
    args = {k: v for k, v in kw.items()}
    ref = npy(C._conv2d_reference(t(x64, nc.float64), t(w64, nc.float64),
                                  t(b64, nc.float64) if bias else None, **args))
    if relu:
        ref = np.maximum(ref, 0)
    mag = npy(C._conv2d_reference(t(np.abs(x64), nc.float64), t(np.abs(w64), nc.float64),
                                  t(np.abs(b64), nc.float64) if bias else None, **args)) + 1e-30
    assert y.shape == ref.shape
    np.testing.assert_array_less(np.abs(npy(y) - ref), 1e-6 + 2e-6 * mag)
    if y.numel() == 0:
        return
    g64 = rng.uniform(-1, 1, ref.shape)
    y.backward(t(g64))
    gm = g64 * (ref > 0) if relu else g64
    dx, dw = C._conv2d_backward_reference(t(x64, nc.float64), t(w64, nc.float64), t(gm, nc.float64), **args)
    gx = npy(xb.grad)
    if noncontig:
        gx = gx[:, :, ::2, :].transpose(0, 1, 3, 2)
    scale_x = np.abs(npy(dx)).max() + 1
    scale_w = np.abs(npy(dw)).max() + 1
    np.testing.assert_allclose(gx, npy(dx), atol=1e-5 * scale_x, rtol=0)
    np.testing.assert_allclose(npy(w.grad), npy(dw), atol=1e-5 * scale_w, rtol=0)
    if bias:
        np.testing.assert_allclose(npy(b.grad), gm.sum(axis=(0, 2, 3)), atol=1e-4, rtol=1e-5)


COMBOS = list(itertools.product((1, 2, 3), (0, 1, 2, 3), (1, 2, 3)))  # stride, padding, dilation


@pytest.mark.parametrize("stride,padding,dilation", COMBOS, ids=lambda v: str(v))
def test_conv2d_every_stride_padding_dilation(rng, stride, padding, dilation):
    check_conv(rng, (2, 3, 9, 8), (4, 3, 3, 3), stride=stride, padding=padding, dilation=dilation)


@pytest.mark.parametrize("stride,padding,dilation", COMBOS[::3], ids=lambda v: str(v))
def test_depthwise_every_stride_padding_dilation(rng, stride, padding, dilation):
    check_conv(rng, (2, 4, 9, 7), (8, 1, 3, 3), stride=stride, padding=padding, dilation=dilation, groups=4)


@pytest.mark.parametrize("case", [
    dict(x=(1, 5, 7, 7), w=(6, 5, 1, 1)),                           # pointwise, no im2col
    dict(x=(3, 6, 5, 9), w=(4, 3, 2, 3), groups=2, stride=(2, 1)),  # groups, asymmetric
    dict(x=(2, 6, 11, 5), w=(6, 1, 3, 3), groups=6, padding=1),      # depthwise
    dict(x=(2, 6, 11, 5), w=(12, 1, 3, 2), groups=6, padding=(1, 0)),  # depthwise, multiplier 2
    dict(x=(1, 3, 13, 13), w=(2, 3, 5, 5), padding=2, relu=True),    # fused relu
    dict(x=(0, 3, 5, 5), w=(2, 3, 3, 3)),                            # batch 0
    dict(x=(1, 1, 1, 1), w=(1, 1, 1, 1)),
    dict(x=(2, 3, 4, 6), w=(5, 3, 4, 6)),                            # kernel covers the input
    dict(x=(2, 3, 9, 8), w=(4, 3, 3, 3), noncontig=True, padding=1),
    dict(x=(2, 4, 9, 8), w=(4, 1, 3, 3), noncontig=True, groups=4, relu=True),
    dict(x=(33, 8, 6, 6), w=(16, 8, 3, 3), padding=1),                # more items than threads
])
def test_conv2d_cases(rng, case):
    case = dict(case)
    check_conv(rng, case.pop("x"), case.pop("w"), **case)


def test_conv2d_every_isa(rng):
    for isa in C._supported_isas():
        C._set_isa(isa)
        try:
            check_conv(rng, (2, 4, 7, 9), (6, 2, 3, 3), groups=2, padding=1, relu=True)
            check_conv(rng, (3, 8, 5, 5), (5, 8, 1, 1))
            check_conv(rng, (2, 4, 9, 21), (8, 1, 3, 3), groups=4, padding=1, relu=True)  # depthwise copies
            check_conv(rng, (2, 4, 9, 21), (4, 1, 3, 2), groups=4, stride=2, dilation=(1, 2))
        finally:
            C._set_isa(None)


def test_depthwise_3x3_stride1_every_isa(rng):
    """The depthwise 3x3 stride-1 kernel (Note [Depthwise 3x3 stride 1]): widths around
    the vector lengths (8 and 16 lanes: tails, one partial chunk, interior chunks with
    full masks), padding 0..2 (rows read from the zero row, masked edge taps), 1-row
    planes, a channel multiplier, relu, no bias, a non-contiguous input; forward and the
    three gradients against the float64 references on every ISA."""
    for isa in C._supported_isas():
        C._set_isa(isa)
        try:
            for w_ in (1, 2, 7, 8, 9, 15, 16, 17, 33, 40):
                for pad in (0, 1, 2):
                    if w_ + 2 * pad < 3:
                        continue
                    h = 1 + (w_ % 5)
                    if h + 2 * pad < 3:
                        h = 3
                    check_conv(rng, (2, 3, h, w_), (3, 1, 3, 3), groups=3, padding=pad,
                               relu=(w_ % 2 == 0), bias=(pad != 2))
            check_conv(rng, (2, 2, 6, 19), (4, 1, 3, 3), groups=2, padding=1)  # multiplier 2
            check_conv(rng, (1, 4, 5, 17), (4, 1, 3, 3), groups=4, padding=(0, 1), noncontig=True)
        finally:
            C._set_isa(None)


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_conv2d_thread_counts_agree(rng, threads):
    x, w = t(rng.standard_normal((5, 6, 8, 8))), t(rng.standard_normal((4, 6, 3, 3)))
    before = nc.get_num_threads()
    try:
        nc.set_num_threads(1)
        want = C.conv2d(x, w, None, 1, 1)
        nc.set_num_threads(threads)
        np.testing.assert_allclose(npy(C.conv2d(x, w, None, 1, 1)), npy(want), rtol=1e-5, atol=1e-5)
    finally:
        nc.set_num_threads(before)


# Shapes that reach the implicit-GEMM float32 paths (cpu/conv_gemm.cpp): several MR row
# panels and column panels with ragged edges, K past the kernel's kc (two k blocks),
# P past kc (position blocks inside one image), several images per position block,
# Cg a multiple / not a multiple of the channel chunk (weight gradient), stride 2 in W
# (reference packer), padding beyond the kernel's reach (negative padding in the input
# gradient's conv), groups, dilation, fused relu, non-contiguous input.
IMPLICIT_CASES = [
    dict(x=(3, 32, 9, 7), w=(20, 32, 3, 3), padding=1),
    dict(x=(2, 64, 10, 9), w=(30, 64, 3, 3), padding=1, relu=True),
    dict(x=(2, 48, 25, 23), w=(16, 48, 3, 3), padding=1),
    dict(x=(2, 40, 11, 10), w=(8, 40, 3, 2), stride=(2, 1), padding=(0, 2), dilation=(2, 1)),
    dict(x=(3, 32, 12, 13), w=(16, 32, 3, 3), stride=2, padding=1),
    dict(x=(2, 64, 8, 8), w=(32, 32, 3, 3), groups=2, padding=1, relu=True),
    dict(x=(2, 32, 5, 6), w=(8, 32, 3, 3), padding=3),
    dict(x=(2, 32, 9, 11), w=(6, 32, 3, 3), padding=3, dilation=3),
    dict(x=(2, 32, 7, 9), w=(12, 32, 3, 3), padding=1, noncontig=True),
    dict(x=(17, 24, 6, 5), w=(15, 24, 1, 1)),
    # small outputs: column panels across images (7x7, 2x2, 1x1 outputs; N*P ragged)
    dict(x=(5, 32, 7, 7), w=(20, 32, 3, 3), padding=1, relu=True),
    dict(x=(9, 16, 4, 4), w=(6, 16, 3, 3), stride=2, padding=1),
    dict(x=(37, 8, 3, 3), w=(5, 8, 3, 3)),
    dict(x=(3, 40, 14, 14), w=(16, 20, 3, 3), padding=1, groups=2),
    # depthwise, sw == 1 (AVX-512 register kernels): several / ragged 16-column chunks,
    # dilation, sh 2, multiplier 2, padding past the kernel's reach, 5x5
    dict(x=(2, 5, 11, 37), w=(5, 1, 3, 3), groups=5, padding=1, relu=True),
    dict(x=(2, 4, 13, 19), w=(4, 1, 3, 3), groups=4, padding=2, dilation=2),
    dict(x=(3, 4, 12, 17), w=(4, 1, 3, 2), groups=4, stride=(2, 1), padding=(1, 2)),
    dict(x=(2, 3, 9, 16), w=(6, 1, 3, 3), groups=3, padding=1),
    dict(x=(2, 3, 6, 7), w=(3, 1, 3, 3), groups=3, padding=3),
    dict(x=(2, 3, 10, 21), w=(3, 1, 5, 5), groups=3, padding=2, noncontig=True),
    # depthwise, sw == 2 (even / odd column phases): odd and even widths, dilation,
    # multiplier 2, 5x5, relu
    dict(x=(2, 3, 9, 17), w=(6, 1, 3, 3), groups=3, stride=(1, 2), padding=(1, 2), dilation=(1, 2)),
    dict(x=(2, 4, 11, 12), w=(4, 1, 5, 5), groups=4, stride=2, padding=2, relu=True),
    dict(x=(3, 2, 8, 40), w=(2, 1, 3, 3), groups=2, stride=2, padding=1),
]


@pytest.mark.parametrize("case", IMPLICIT_CASES, ids=lambda c: f"{c['x']}-{c['w']}")
def test_conv2d_implicit_gemm_every_isa(rng, case):
    for isa in C._supported_isas():
        C._set_isa(isa)
        try:
            kw = dict(case)
            check_conv(rng, kw.pop("x"), kw.pop("w"), **kw)
        finally:
            C._set_isa(None)


def test_conv2d_random_geometries_every_isa(rng):
    """Random kernel sizes, strides, paddings (up to past the kernel's reach), dilations,
    groups, channel counts (K past kc, Cg around the weight gradient's channel chunks),
    batch and image sizes (column panels inside and across images), on every ISA."""
    cases = []
    for _ in range(12):
        kh, kw = int(rng.integers(1, 4)), int(rng.integers(1, 4))
        sh, sw = int(rng.integers(1, 3)), int(rng.integers(1, 3))
        dh, dw = int(rng.integers(1, 3)), int(rng.integers(1, 3))
        ph, pw = int(rng.integers(0, dh * (kh - 1) + 2)), int(rng.integers(0, dw * (kw - 1) + 2))
        groups = int(rng.choice([1, 1, 2, 3]))
        cg = int(rng.choice([1, 5, 16, 24, 33, 64]))
        og = int(rng.integers(1, 30))
        h, w = int(rng.integers(dh * (kh - 1) + 1, 15)), int(rng.integers(dw * (kw - 1) + 1, 15))
        n = int(rng.integers(1, 6))
        cases.append(dict(x=(n, cg * groups, h, w), w=(og * groups, cg, kh, kw), stride=(sh, sw),
                          padding=(ph, pw), dilation=(dh, dw), groups=groups, relu=bool(rng.integers(0, 2))))
    for isa in C._supported_isas():
        C._set_isa(isa)
        try:
            for case in cases:
                kw = dict(case)
                check_conv(rng, kw.pop("x"), kw.pop("w"), **kw)
        finally:
            C._set_isa(None)


@pytest.mark.parametrize("case", IMPLICIT_CASES[:3] + IMPLICIT_CASES[5:6] + IMPLICIT_CASES[10:12] + IMPLICIT_CASES[14:16] + IMPLICIT_CASES[-2:], ids=lambda c: f"{c['x']}-{c['w']}")
def test_conv2d_gradients_bitwise_same_for_1_2_3_threads(rng, case):
    kw = dict(case)
    kw.pop("relu", None)
    xs, ws = kw.pop("x"), kw.pop("w")
    x64, w64, g64 = rng.standard_normal(xs), rng.standard_normal(ws), None
    before = nc.get_num_threads()
    results = []
    try:
        for threads in (1, 2, 3):
            nc.set_num_threads(threads)
            x, w = t(x64, requires_grad=True), t(w64, requires_grad=True)
            y = C.conv2d(x, w, None, **kw)
            if g64 is None:
                g64 = rng.standard_normal(y.shape)
            y.backward(t(g64))
            results.append([npy(y), npy(x.grad), npy(w.grad)])
    finally:
        nc.set_num_threads(before)
    for other in results[1:]:
        for a, b in zip(results[0], other):
            np.testing.assert_array_equal(a, b)


def test_padding_same_even_kernel_matches_explicit_asymmetric_pad(rng):
    x64 = rng.standard_normal((1, 2, 6, 7))
    w64 = rng.standard_normal((3, 2, 4, 2))
    y = F.conv2d(t(x64, nc.float64), t(w64, nc.float64), padding="same", dilation=(1, 3))
    # totals 3 and 3: pad (1, 2) rows and (1, 2) columns
    xp = np.pad(x64, ((0, 0), (0, 0), (1, 2), (1, 2)))
    ref = npy(C._conv2d_reference(t(xp, nc.float64), t(w64, nc.float64), dilation=(1, 3)))
    assert y.shape == (1, 3, 6, 7)
    np.testing.assert_allclose(npy(y), ref, rtol=1e-12, atol=1e-12)


def test_gradcheck_small_float64(rng):
    x = t(rng.standard_normal((2, 4, 5, 4)), nc.float64, True)
    w = t(rng.standard_normal((4, 2, 2, 3)), nc.float64, True)
    b = t(rng.standard_normal(4), nc.float64, True)
    gc = nc.autograd.gradcheck
    assert gc(lambda x, w, b: F.conv2d(x, w, b, stride=(2, 1), padding=1, dilation=(1, 2), groups=2), [x, w, b])
    assert gc(lambda x, w, b: C.conv2d(x, w, b, 1, 1, 1, 2, True), [x, w, b])
    wd = t(rng.standard_normal((8, 1, 3, 3)), nc.float64, True)
    assert gc(lambda x, w: F.conv2d(x, w, None, 2, 1, 1, 4), [x, wd])
    wt = t(rng.standard_normal((4, 3, 3, 2)), nc.float64, True)
    assert gc(lambda x, w, b: F.conv_transpose2d(x, w, b[:3].contiguous(), 2, 1, 1, 1, 1), [x, wt, b])
    assert gc(lambda x: F.max_pool2d(x, 2, 1, 1), [x])
    assert gc(lambda x: F.avg_pool2d(x, 3, 2, 1, True, False), [x])
    assert gc(lambda x: F.adaptive_avg_pool2d(x, (3, 2)), [x])
    assert gc(lambda x, b: F.batch_norm(x, None, None, b, b, True), [x, b])
    assert gc(lambda x, b: F.group_norm(x, 2, b, b), [x, b])


# ---- pooling / normalization details ------------------------------------------------

def test_max_pool2d_indices_and_backward_scatter():
    x = t(np.arange(16.0).reshape(1, 1, 4, 4), requires_grad=True)
    y, idx = F.max_pool2d(x, 2, return_indices=True)
    assert idx.dtype == nc.int64 and idx.tolist() == [[[[5, 7], [13, 15]]]]
    y.sum().backward()
    assert npy(x.grad).reshape(-1).tolist() == [0, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 1, 0, 1]
    # overlapping windows accumulate
    x2 = t(np.array([[[[0, 9, 0], [0, 0, 0], [0, 0, 0]]]], dtype=float), requires_grad=True)
    F.max_pool2d(x2, 2, stride=1).sum().backward()
    assert npy(x2.grad)[0, 0, 0, 1] == 2


def test_max_pool2d_nan_propagates():
    x = t([[[[1.0, float("nan")], [3.0, 2.0]]]])
    assert np.isnan(float(F.max_pool2d(x, 2).sum()))


def test_batch_norm_running_statistics_update():
    rng = np.random.default_rng(0)
    x64 = rng.standard_normal((4, 3, 5, 2))
    rm, rv = nc.zeros(3), nc.ones(3)
    F.batch_norm(t(x64), rm, rv, training=True, momentum=0.3)
    n = 4 * 5 * 2
    mean, var = x64.mean(axis=(0, 2, 3)), x64.var(axis=(0, 2, 3)) * n / (n - 1)
    np.testing.assert_allclose(npy(rm), 0.3 * mean, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(npy(rv), 0.7 + 0.3 * var, rtol=1e-5)
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        F.batch_norm(nc.ones(1, 3), rm, rv, training=True)
    with pytest.raises(ValueError, match="evaluation mode"):
        F.batch_norm(nc.ones(2, 3), None, None, training=False)


def test_errors_name_the_op_and_shapes():
    x = nc.ones(1, 4, 5, 5)
    with pytest.raises(ValueError, match="conv2d.*groups"):
        F.conv2d(x, nc.ones(3, 2, 3, 3), groups=2)
    with pytest.raises(ValueError, match="conv2d.*larger than the padded input"):
        F.conv2d(x, nc.ones(2, 4, 7, 7))
    with pytest.raises(ValueError, match="conv2d: padding='same'"):
        F.conv2d(x, nc.ones(2, 4, 3, 3), stride=2, padding="same")
    with pytest.raises(TypeError):
        F.conv2d(x, nc.ones(2, 4, 3, 3, dtype=nc.float64))
    with pytest.raises(ValueError, match="max_pool2d: padding"):
        F.max_pool2d(x, 2, padding=2)
    with pytest.raises(ValueError, match="group_norm"):
        F.group_norm(x, 3)
    with pytest.raises(ValueError, match="conv_transpose2d: output_padding"):
        F.conv_transpose2d(x, nc.ones(4, 2, 3, 3), stride=1, output_padding=1)


# ---- nn layers ---------------------------------------------------------------------------

def test_modules_parameters_buffers_and_init():
    conv = nn.Conv2d(4, 6, 3, padding=1, groups=2)
    assert tuple(conv.weight.shape) == (6, 2, 3, 3) and tuple(conv.bias.shape) == (6,)
    bound = 1 / np.sqrt(2 * 9)
    assert np.abs(npy(conv.weight)).max() <= bound and np.abs(npy(conv.bias)).max() <= bound
    bn = nn.BatchNorm2d(6)
    assert list(bn.state_dict()) == ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"]
    x = nc.randn(3, 4, 7, 7)
    y = bn(conv(x))
    assert int(bn.num_batches_tracked.item()) == 1 and tuple(y.shape) == (3, 6, 7, 7)
    bn.eval()
    y2 = bn(conv(x))
    assert tuple(y2.shape) == (3, 6, 7, 7)
    pool = nn.Sequential(nn.MaxPool2d(2), nn.AvgPool2d(2, ceil_mode=True), nn.AdaptiveAvgPool2d((1, None)))
    assert tuple(pool(y).shape) == (3, 6, 1, 2)
    bn_cum = nn.BatchNorm2d(6, momentum=None)
    bn_cum(y)
    bn_cum(y2)
    assert int(bn_cum.num_batches_tracked.item()) == 2


# ---- torch agreement ----------------------------------------------------------------------

def test_agrees_with_torch(rng):
    torch = pytest.importorskip("torch")
    tf = torch.nn.functional
    x64 = rng.standard_normal((2, 4, 9, 7))
    cases = [
        (lambda m, x, w, b: m.conv2d(x, w, b, 2, 1, 2, 2), (6, 2, 3, 3)),
        (lambda m, x, w, b: m.conv2d(x, w, b, 1, "same", 1, 1), (6, 4, 2, 3)),
        (lambda m, x, w, b: m.conv_transpose2d(x, w, b, 2, 1, 1, 2, 1), (4, 3, 3, 3)),
    ]
    for f, wshape in cases:
        w64 = rng.standard_normal(wshape)
        b64 = rng.standard_normal(6)
        got = f(F, t(x64), t(w64), t(b64))
        with warnings.catch_warnings():  # torch warns that even 'same' kernels copy the input
            warnings.simplefilter("ignore")
            want = f(tf, torch.tensor(x64, dtype=torch.float32), torch.tensor(w64, dtype=torch.float32),
                     torch.tensor(b64, dtype=torch.float32))
        np.testing.assert_allclose(npy(got), want.double().numpy(), rtol=1e-4, atol=1e-4)
    tx = torch.tensor(x64)
    for ours, theirs in [
        (F.max_pool2d(t(x64, nc.float64), 3, 2, 1, 1, True, True),
         tf.max_pool2d(tx, 3, 2, 1, 1, True, True)),
        (F.avg_pool2d(t(x64, nc.float64), 3, 2, 1, True, False), tf.avg_pool2d(tx, 3, 2, 1, True, False)),
        (F.adaptive_avg_pool2d(t(x64, nc.float64), (4, 3)), tf.adaptive_avg_pool2d(tx, (4, 3))),
        (F.group_norm(t(x64, nc.float64), 2), tf.group_norm(tx, 2)),
    ]:
        ours = ours if isinstance(ours, tuple) else (ours,)
        theirs = theirs if isinstance(theirs, tuple) else (theirs,)
        for a, b in zip(ours, theirs):
            np.testing.assert_allclose(np.asarray(a.numpy()), b.numpy(), rtol=1e-10, atol=1e-12)
