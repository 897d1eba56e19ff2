"""NumPy and DLPack interop (zero-copy both ways, checked by pointers and by writes),
Python conversions (.item, .tolist, bool/float/int), repr, and dtype conversions
including the float16 / bfloat16 rounding (round to nearest even) against bit-level
NumPy references."""
import gc

import numpy as np
import pytest

import nn_core as nc
import samples as S

NP_TYPES = ["float64", "float32", "float16", "int64", "int32", "int8", "uint8", "bool"]


def ptr(a):
    return a.__array_interface__["data"][0]


# ---- from_numpy / .numpy() / np.asarray ------------------------------------------------------

@pytest.mark.parametrize("dt", NP_TYPES)
def test_from_numpy_shares_memory_both_ways(dt):
    a = (np.arange(12).reshape(3, 4) % 3).astype(dt)
    t = nc.from_numpy(a)
    assert t.dtype == getattr(nc, dt) and tuple(t.shape) == (3, 4) and t.stride() == (4, 1)
    assert t.data_ptr() == ptr(a)
    a[0, 1] = 1
    assert t[0, 1].item() == 1
    t[2, 3] = 0
    assert a[2, 3] == 0
    t.fill_(1)
    assert np.all(a == 1)


def test_from_numpy_strided_views_and_lifetime():
    a = np.arange(24.0).reshape(4, 6)
    for view in (a.T, a[:, ::2], a[1:3, 1:5], a[::2, ::-1]):
        t = nc.from_numpy(view)
        np.testing.assert_array_equal(S.to_np(t), view)
        if all(s > 0 for s in view.strides):  # positive strides: shared, strides kept
            assert t.data_ptr() == ptr(view)
            assert t.stride() == tuple(s // 8 for s in view.strides)
    t = nc.from_numpy(np.arange(1000.0))
    gc.collect()  # the array lives as long as the tensor
    assert t.sum().item() == 499500.0 and t[999].item() == 999.0


def test_from_numpy_rejects_unsupported_dtypes():
    for a in (np.zeros(3, np.int16), np.zeros(3, np.complex128), np.zeros(3, np.uint32), np.array(["a"])):
        with pytest.raises(TypeError):
            nc.from_numpy(a)


@pytest.mark.parametrize("dt", NP_TYPES)
def test_numpy_shares_memory(dt):
    t = nc.tensor(np.arange(6).reshape(2, 3).astype(dt))
    n = t.numpy()
    assert n.dtype == np.dtype(dt) and n.shape == (2, 3) and ptr(n) == t.data_ptr()
    n[1, 2] = 0
    assert t[1, 2].item() == 0
    t.zero_()
    assert not n.any()
    tv = t.T
    nv = tv.numpy()  # a strided view stays a view
    assert ptr(nv) == tv.data_ptr() and nv.strides == tuple(s * n.itemsize for s in tv.stride())


def test_numpy_refusals():
    with pytest.raises(RuntimeError):
        nc.ones(2, requires_grad=True).numpy()
    assert nc.ones(2, requires_grad=True).detach().numpy().tolist() == [1.0, 1.0]
    with pytest.raises(TypeError):
        nc.ones(2, dtype=nc.bfloat16).numpy()


def test_np_asarray():
    t = nc.tensor([[1.5, -2.0], [0.0, 4.0]], dtype=nc.float64)
    a = np.asarray(t)
    assert a.dtype == np.float64 and a.tolist() == [[1.5, -2.0], [0.0, 4.0]]
    assert np.asarray(t, dtype=np.float32).dtype == np.float32
    assert np.asarray(nc.tensor([1, 2], dtype=nc.int32)).dtype == np.int32
    np.testing.assert_array_equal(np.asarray(t.T[::-1]), a.T[::-1])


# ---- DLPack ---------------------------------------------------------------------------------

def test_dlpack_round_trips_without_copies():
    t = nc.tensor(np.arange(12.0).reshape(3, 4), dtype=nc.float32)
    assert t.__dlpack_device__() == (1, 0)
    a = np.from_dlpack(t)
    assert ptr(a) == t.data_ptr() and a.dtype == np.float32 and a.shape == (3, 4)
    a[0, 0] = 42.0
    assert t[0, 0].item() == 42.0
    back = nc.from_dlpack(a)
    assert back.data_ptr() == t.data_ptr()
    n = np.arange(10, dtype=np.int64)
    u = nc.from_dlpack(n)
    assert u.data_ptr() == ptr(n) and u.dtype == nc.int64
    u[3] = -1
    assert n[3] == -1
    w = nc.from_dlpack(t)
    assert w.data_ptr() == t.data_ptr()


def test_dlpack_strided_views():
    t = nc.tensor(np.arange(20.0).reshape(4, 5))
    v = t.T[1:, ::2]
    a = np.from_dlpack(v)
    np.testing.assert_array_equal(a, np.arange(20.0).reshape(4, 5).T[1:, ::2])
    assert ptr(a) == v.data_ptr()
    n = np.arange(30.0).reshape(5, 6)[:, 1::2]
    m = nc.from_dlpack(n)
    assert m.data_ptr() == ptr(n)
    np.testing.assert_array_equal(S.to_np(m), n)


# ---- Python conversions and repr --------------------------------------------------------------

def test_item_and_tolist():
    assert nc.tensor(2.5).item() == 2.5 and isinstance(nc.tensor(2.5).item(), float)
    assert nc.tensor([7]).item() == 7 and isinstance(nc.tensor([7]).item(), int)
    assert nc.tensor(True).item() is True
    assert nc.tensor([[1, 2], [3, 4]]).tolist() == [[1, 2], [3, 4]]
    assert nc.tensor([0.5, 1.0], dtype=nc.bfloat16).tolist() == [0.5, 1.0]
    assert nc.tensor(3.0).tolist() == 3.0
    assert nc.zeros(2, 0).tolist() == [[], []]
    assert nc.tensor(np.arange(6.0).reshape(2, 3)).T.tolist() == [[0.0, 3.0], [1.0, 4.0], [2.0, 5.0]]
    with pytest.raises((RuntimeError, ValueError)):
        nc.ones(2).item()
    assert float(nc.tensor([2.5])) == 2.5 and int(nc.tensor(3.7)) == 3 and bool(nc.tensor([1]))
    with pytest.raises((RuntimeError, ValueError)):
        bool(nc.ones(2))
    assert len(nc.zeros(5, 2)) == 5 and [r.tolist() for r in nc.tensor([[1, 2], [3, 4]])] == [[1, 2], [3, 4]]


def test_repr_formats_values_like_numpy():
    assert repr(nc.tensor([1.0, 2.0])) == "tensor([1., 2.])"
    assert repr(nc.tensor(3.0)) == "tensor(3.)"  # a float keeps its point, as NumPy prints 3.
    assert repr(nc.tensor(-0.5)) == "tensor(-0.5)"
    assert repr(nc.tensor([[1, 2]])).startswith("tensor([[1, 2]]")
    assert repr(nc.tensor([True, False])).startswith("tensor([ True, False]")
    big = repr(nc.zeros(5000))
    assert "..." in big and len(big) < 200


def test_repr_shows_dtype_and_autograd_state():
    assert repr(nc.tensor([1.0, 2.0], dtype=nc.float64)) == "tensor([1., 2.], dtype=nn_core.float64)"
    assert repr(nc.tensor([1, 2], dtype=nc.int32)) == "tensor([1, 2], dtype=nn_core.int32)"
    assert repr(nc.ones(2, requires_grad=True)) == "tensor([1., 1.], requires_grad=True)"
    r = repr(nc.ones(2, requires_grad=True) * 2)
    assert r == "tensor([2., 2.], grad_fn=<MulBackward>)", r


def test_dtype_objects():
    assert repr(nc.float32) == "nn_core.float32" and str(nc.bfloat16) == "nn_core.bfloat16"
    for dt in S.ALL:
        d = getattr(nc, dt)
        assert d.itemsize == (2 if dt == "bfloat16" else np.dtype(S.NP_DTYPE[dt]).itemsize), dt
        assert d.is_floating_point == (dt in S.FLOAT), dt
    assert str(nc.ones(1).device) == "cpu" and nc.get_default_dtype() == nc.float32


def test_repr_values_parse_back():
    rng = np.random.default_rng(5)
    a = np.round(rng.standard_normal((3, 4)), 3)
    text = repr(nc.tensor(a))
    body = text[len("tensor("): text.index(")") if "dtype" not in text else text.index(", dtype")]
    np.testing.assert_allclose(np.array(eval(body)), a, atol=1e-4)  # noqa: S307 -- our own repr


# ---- dtype conversions ----------------------------------------------------------------------------

def test_conversions_round_trip(rng):
    ints = rng.integers(-100, 100, 500)
    for src in ("int64", "int32", "int8"):
        t = S.make(ints.astype(S.NP_DTYPE[src]).astype(np.int64) % 100, src)
        for mid in ("float32", "float64", "float16", "bfloat16", "int64", "int32"):
            assert t.to(getattr(nc, mid)).to(t.dtype).tolist() == t.tolist(), (src, mid)
    f = rng.standard_normal(500).astype(np.float32)
    t = nc.from_numpy(f)
    assert np.array_equal(t.double().float().numpy(), f)
    np.testing.assert_array_equal(t.to(nc.int32).numpy(), np.trunc(f).astype(np.int32))  # toward zero
    np.testing.assert_array_equal(t.bool().numpy(), f != 0)
    assert nc.tensor([True, False]).float().tolist() == [1.0, 0.0]
    assert t.half().dtype == nc.float16 and t.long().dtype == nc.int64 and t.int().dtype == nc.int32
    assert t.type_as(nc.zeros(1, dtype=nc.float64)).dtype == nc.float64


def special_float32():
    """Round-to-nearest-even edge cases for half types: exact ties, just off ties,
    subnormals, the overflow threshold, infinities and NaN."""
    bits = [0x3F808000, 0x3F818000, 0x3F807FFF, 0x3F808001, 0x3F80FFFF, 0x7F7FFFFF, 0x7F7F7FFF, 0x7F7F8000,
            0x00000001, 0x00400000, 0x00018000, 0x80008000, 0xBF808000, 0x3F800000, 0x7F800000, 0xFF800000, 0]
    v = np.array(bits, dtype=np.uint32).view(np.float32)
    halfs = np.array([1 + 2**-11, 1 + 3 * 2**-11, 2048 + 1, 65504, 65520, 65519.99, 2**-24, 2**-25,
                      1.5 * 2**-25, 3 * 2**-26, -(1 + 2**-11), 6e-5, 1e-8], dtype=np.float32)
    return np.concatenate([v, halfs, np.random.default_rng(1).standard_normal(1000).astype(np.float32) * 100])


def test_float32_to_bfloat16_rounds_to_nearest_even():
    f = special_float32()
    got = nc.from_numpy(f).to(nc.bfloat16).float().numpy()
    want = S.round_to_bf16(f).astype(np.float32)  # bit-manipulation reference
    bad = ~((got == want) | (np.isnan(got) & np.isnan(want)))
    assert not bad.any(), [(hex(int(x)), g, w) for x, g, w in zip(f[bad].view(np.uint32), got[bad], want[bad])][:5]
    nan = nc.tensor([float("nan")]).to(nc.bfloat16).float().item()
    assert nan != nan


def test_float32_to_float16_rounds_to_nearest_even():
    f = special_float32()
    got = nc.from_numpy(f).to(nc.float16).numpy()
    with np.errstate(over="ignore"):
        want = f.astype(np.float16)  # NumPy rounds to nearest even, with subnormals
    bad = ~((got.view(np.uint16) == want.view(np.uint16)) | (np.isnan(got) & np.isnan(want)))
    assert not bad.any(), [(float(x), g, w) for x, g, w in zip(f[bad], got[bad], want[bad])][:5]


def test_half_types_widen_exactly():
    h = np.arange(0, 1 << 16, dtype=np.uint32).astype(np.uint16).view(np.float16)  # every float16
    got = nc.from_numpy(h).float().numpy()
    with np.errstate(invalid="ignore"):  # NaN payloads
        want = h.astype(np.float32)
    assert np.array_equal(got, want, equal_nan=True)
    b = (np.arange(0, 1 << 16, 7, dtype=np.uint32) << 16).view(np.float32)  # bfloat16 bit patterns
    t = nc.from_numpy(b).to(nc.bfloat16)  # exact: the low 16 bits are zero
    assert np.array_equal(t.float().numpy(), b, equal_nan=True)
    with np.errstate(invalid="ignore"):
        assert np.array_equal(t.double().numpy(), b.astype(np.float64), equal_nan=True)


def test_from_numpy_copies_read_only_arrays(tmp_path):
    """A read-only array is copied (writes through the tensor must not reach memory numpy
    promised not to change, nor fault on a read-only memory map); writable ones are shared."""
    frozen = np.frombuffer(b"\x00" * 16, dtype=np.float32)
    t = nc.from_numpy(frozen)
    t.add_(1)
    assert t.tolist() == [1.0] * 4 and frozen.tolist() == [0.0] * 4
    path = tmp_path / "a.npy"
    np.save(path, np.arange(6, dtype=np.float64))
    mapped = np.load(path, mmap_mode="r")
    u = nc.from_numpy(mapped)
    u.mul_(2)  # would fault on the read-only mapping if it were shared
    assert u.tolist() == [0.0, 2.0, 4.0, 6.0, 8.0, 10.0] and mapped.tolist() == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]
    writable = np.arange(3, dtype=np.float32)
    w = nc.from_numpy(writable)
    w.add_(1)
    assert writable.tolist() == [1.0, 2.0, 3.0]
