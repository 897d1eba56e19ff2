"""Views and indexing: storage sharing (writes through views, data_ptr / stride /
storage_offset relations), reshape vs view, basic slicing with steps (incl. negative),
None / Ellipsis, bool masks and int arrays against NumPy, __setitem__ in all its forms,
cat / stack / split / chunk, and version counters of in-place ops."""
import numpy as np
import pytest
from hypothesis import given, seed, settings
from hypothesis import strategies as st

import nn_core as nc
import samples as S
from op_db import OPS, assert_close
from samples import SEED

ERRORS = (ValueError, IndexError, RuntimeError, TypeError)


def base(*shape, dtype=nc.float32):
    n = int(np.prod(shape))
    return nc.arange(n).to(dtype).reshape(*shape)


def np_of(t):
    return S.to_np(t)


# ---- storage sharing -------------------------------------------------------------------

def test_views_share_storage_and_writes_show_in_base():
    x = base(3, 4)
    item = 4  # float32
    cases = {
        "row": (x[1], x.data_ptr() + 4 * item, (1,)),
        "col": (x[:, 1], x.data_ptr() + item, (4,)),
        "T": (x.T, x.data_ptr(), (1, 4)),
        "reversed": (x[::-1], x.data_ptr() + 8 * item, (-4, 1)),
        "stepped": (x[1:, ::2], x.data_ptr() + 4 * item, (4, 2)),
        "unsqueeze": (x.unsqueeze(2), x.data_ptr(), (1, 1)),
        "expand": (x[:1].expand(5, 4), x.data_ptr(), (0, 1)),
        "permute": (x.permute(1, 0), x.data_ptr(), (1, 4)),
        "view": (x.view(2, 6), x.data_ptr(), (6, 1)),
    }
    for name, (v, ptr, strides) in cases.items():
        assert v.data_ptr() == ptr, name
        assert v.stride()[-len(strides):] == strides, (name, v.stride())
    x[1][2] = 100.0  # through a view of a view
    assert x[1, 2].item() == 100.0
    x.T[3, 0] = -1.0
    assert x[0, 3].item() == -1.0
    x[::-1][0, 0] = 7.0  # reversed view: element 0 is the last row
    assert x[2, 0].item() == 7.0
    assert x[1:, ::2].storage_offset() == 4 and x[::-1].storage_offset() == 8
    assert not x.T.is_contiguous() and x.T.contiguous().is_contiguous()


def test_view_of_base_sees_base_writes_and_version_is_shared():
    x = base(4)
    v = x[1:3]
    x.fill_(2.0)
    assert v.tolist() == [2.0, 2.0]
    before = x._version
    v.add_(1)
    assert x._version > before and v._version == x._version
    assert x.tolist() == [2.0, 3.0, 3.0, 2.0]


def test_reshape_is_a_view_when_strides_allow_and_a_copy_otherwise():
    x = base(3, 4)
    r = x.reshape(4, 3)
    assert r.data_ptr() == x.data_ptr()
    r[0, 0] = 42.0
    assert x[0, 0].item() == 42.0
    t = x.T  # (4, 3) strides (1, 4): a flat view is impossible
    c = t.reshape(12)
    np.testing.assert_array_equal(np_of(c), np_of(x).T.reshape(12))
    c[0] = -5.0
    assert x[0, 0].item() == 42.0  # a copy: the base is unchanged
    s = x[:, :3].reshape(-1)
    np.testing.assert_array_equal(np_of(s), np_of(x)[:, :3].reshape(-1))
    m = x[:, ::2].view(6)  # (3, 2) with strides (4, 2) merges into one stride-2 dim
    assert m.stride() == (2,) and m.data_ptr() == x.data_ptr()
    # Splitting a dim of a non-contiguous tensor is still a view.
    v = t.view(2, 2, 3)
    assert v.data_ptr() == x.data_ptr() and v.stride() == (2, 1, 4)
    np.testing.assert_array_equal(np_of(v), np_of(x).T.reshape(2, 2, 3))


def test_view_raises_when_strides_forbid():
    x = base(3, 4)
    for t, shape in ((x.T, (12,)), (x[:, :3], (9,)), (x[::-1], (12,)), (x.T, (3, 4))):
        with pytest.raises((RuntimeError, ValueError)):
            t.view(*shape)
    with pytest.raises(ValueError):
        x.view(5, 3)  # wrong number of elements
    with pytest.raises(ValueError):
        x.reshape(-1, -1)


# ---- basic indexing vs NumPy --------------------------------------------------------------

@st.composite
def basic_keys(draw):
    shp = tuple(draw(st.lists(st.sampled_from([1, 2, 3, 5, 7]), min_size=1, max_size=4)))
    key = []
    for n in shp[: draw(st.integers(0, len(shp)))]:
        if draw(st.integers(0, 4)) == 0:
            key.append(None)  # a new dim of size 1; the next item still indexes dim n
        kind = draw(st.sampled_from(["int", "slice", "full"]))
        if kind == "int":
            key.append(draw(st.integers(-n, n - 1)))
        elif kind == "slice":
            b = st.one_of(st.none(), st.integers(-n - 2, n + 2))
            key.append(slice(draw(b), draw(b), draw(st.sampled_from([None, 1, 2, 3, -1, -2, -3]))))
        else:
            key.append(slice(None))
    if draw(st.booleans()):
        key.insert(draw(st.integers(0, len(key))), Ellipsis)
    return shp, tuple(key)


@seed(SEED)
@settings(max_examples=200)
@given(basic_keys())
def test_basic_indexing_matches_numpy_and_is_a_view(case):
    shp, key = case
    a = np.arange(int(np.prod(shp)), dtype=np.float64).reshape(shp)
    x = nc.tensor(a)
    v = x[key]
    np.testing.assert_array_equal(np_of(v), a[key], err_msg=f"key {key}")
    if v.numel():
        v.fill_(-1.0)  # a view: the write lands in the base
        a[key] = -1.0
        np.testing.assert_array_equal(np_of(x), a, err_msg=f"write through key {key}")


def test_indexing_errors():
    x = base(3, 4)
    for key in ((3,), (0, 4), (-4,), (0, 0, 0), (slice(None, None, 0),)):
        with pytest.raises((IndexError, ValueError)):
            x[key]
    with pytest.raises(IndexError):
        x[nc.tensor([0, 3])]
    with pytest.raises(IndexError):
        x[nc.tensor([True, False])]  # mask shape does not match
    with pytest.raises((IndexError, TypeError)):
        x[nc.tensor([0.0, 1.0])]  # float indices


@seed(SEED)
@settings(max_examples=150)
@given(st.data())
def test_advanced_indexing_matches_numpy(data):
    s = data.draw(OPS["index"].samples("float64"))
    (a, key), _ = s.np_args()
    (x, nkey), _ = s.nc_args()
    assert_close(x[nkey], a[key], what=f"x[{key}]")


def test_advanced_indexing_examples():
    a = np.arange(60.0).reshape(3, 4, 5)
    x = nc.tensor(a)
    i, j = np.array([[0, 2], [1, 1]]), np.array([3, -1])
    m = a[:, :, 0] > 20
    for key_np, key_nc in [
        ((i,), (nc.tensor(i),)),
        ((slice(None), i, j), (slice(None), nc.tensor(i), nc.tensor(j))),
        ((i, slice(None), j), (nc.tensor(i), slice(None), nc.tensor(j))),  # split: advanced dims first
        ((m,), (nc.tensor(m),)),
        ((Ellipsis, [0, 4]), (Ellipsis, [0, 4])),
        ((None, [2, 0], slice(1, None, 2)), (None, [2, 0], slice(1, None, 2))),
        ((a[:, 0, 0] > 10,), (nc.tensor(a[:, 0, 0] > 10),)),
    ]:
        np.testing.assert_array_equal(np_of(x[key_nc]), a[key_np], err_msg=str(key_np))
    y = x[nc.tensor(i)]
    y.fill_(0.0)  # advanced indexing copies: the base is unchanged
    assert x.sum().item() == a.sum()


# ---- __setitem__ ------------------------------------------------------------------------------

@seed(SEED)
@settings(max_examples=150)
@given(st.data())
def test_setitem_matches_numpy(data):
    s = data.draw(OPS["index_put"].samples(data.draw(st.sampled_from(["float64", "int64", "bool", "float16"]))))
    (a, key, v), _ = s.np_args()
    (x, nkey, nv), _ = s.nc_args()
    want = a.copy()
    want[key] = v
    x[nkey] = nv
    assert_close(x, want, what=f"x[{key}] = {s.args[2]!r}")


@seed(SEED)
@settings(max_examples=100)
@given(basic_keys(), st.data())
def test_setitem_basic_keys_with_broadcast_values(case, data):
    shp, key = case
    a = np.zeros(shp)
    target = a[key].shape
    drop = data.draw(st.integers(0, len(target)))
    vshape = tuple(1 if data.draw(st.booleans()) else n for n in target[drop:])
    v = np.arange(1.0, 1.0 + int(np.prod(vshape))).reshape(vshape)
    x = nc.tensor(a)
    x[key] = nc.tensor(v)
    a[key] = v
    np.testing.assert_array_equal(np_of(x), a, err_msg=f"key {key} value shape {vshape}")
    x[key] = 2.5
    a[key] = 2.5
    np.testing.assert_array_equal(np_of(x), a)


def test_setitem_forms():
    x = nc.zeros(3, 4)
    x[0] = 1.0
    x[1, 1:3] = nc.tensor([2.0, 3.0])
    x[:, 3] = nc.tensor([[7.0], [8.0], [9.0]]).reshape(3)
    x[x == 0] = -1.0
    x[nc.tensor([2, 2]), nc.tensor([0, 1])] = nc.tensor([5.0, 6.0])
    x[..., 0] = x[..., 0] * 2  # value computed from the target itself
    want = np.array([[2, 1, 1, 7], [-2, 2, 3, 8], [10, 6, -1, 9]], dtype=np.float32)
    np.testing.assert_array_equal(np_of(x), want)
    i = nc.zeros(3, dtype=nc.int32)
    i[1] = 2.9  # float into int: truncates as a cast
    assert i.tolist() == [0, 2, 0]
    with pytest.raises(ValueError):
        x[0] = nc.ones(3)  # (3,) does not broadcast to (4,)


# ---- cat / stack / split / chunk ----------------------------------------------------------

def test_cat_stack_split_chunk_vs_numpy(rng):
    a, b = rng.standard_normal((2, 3)), rng.standard_normal((4, 3))
    x, y = nc.tensor(a), nc.tensor(b)
    np.testing.assert_array_equal(np_of(nc.cat([x, y])), np.concatenate([a, b]))
    np.testing.assert_array_equal(np_of(nc.cat([x.T, y.T], dim=-1)), np.concatenate([a.T, b.T], axis=-1))
    np.testing.assert_array_equal(np_of(nc.stack([x, x * 2], dim=1)), np.stack([a, a * 2], axis=1))
    np.testing.assert_array_equal(np_of(nc.stack([x[0], y[3]], dim=-1)), np.stack([a[0], b[3]], axis=-1))
    parts = y.split(3)
    assert [tuple(p.shape) for p in parts] == [(3, 3), (1, 3)]
    parts = y.split([1, 0, 3], dim=0)
    assert [tuple(p.shape) for p in parts] == [(1, 3), (0, 3), (3, 3)]
    np.testing.assert_array_equal(np_of(parts[2]), b[1:])
    assert parts[2].data_ptr() == y.data_ptr() + 3 * 8  # split pieces are views
    chunks = nc.arange(10).chunk(4)
    assert [c.tolist() for c in chunks] == [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9]]
    assert len(nc.arange(6).chunk(4)) == 3  # PyTorch: ceil-sized chunks, fewer than asked
    with pytest.raises(ValueError):
        nc.cat([x, y], dim=1)
    with pytest.raises(ValueError):
        nc.stack([x, y])
    with pytest.raises(ValueError):
        y.split([1, 1])
    with pytest.raises(IndexError):
        nc.cat([x, x], dim=2)


def test_cat_mixed_dtypes_promote():
    r = nc.cat([nc.tensor([1, 2]), nc.tensor([0.5])])
    assert r.dtype == nc.float32 and r.tolist() == [1.0, 2.0, 0.5]


# ---- versions and in-place returns ------------------------------------------------------------

INPLACE = [
    ("add_", lambda t: t.add_(1)), ("sub_", lambda t: t.sub_(1)), ("mul_", lambda t: t.mul_(2)),
    ("div_", lambda t: t.div_(2)), ("pow_", lambda t: t.pow_(2)), ("clamp_", lambda t: t.clamp_(0, 1)),
    ("neg_", lambda t: t.neg_()), ("exp_", lambda t: t.exp_()), ("zero_", lambda t: t.zero_()),
    ("fill_", lambda t: t.fill_(3)), ("copy_", lambda t: t.copy_(nc.ones(3))), ("relu_", lambda t: t.relu_()),
    ("uniform_", lambda t: t.uniform_()), ("normal_", lambda t: t.normal_()),
]


@pytest.mark.parametrize("name,f", INPLACE, ids=[n for n, _ in INPLACE])
def test_inplace_ops_bump_version_and_return_self(name, f):
    t = nc.tensor([0.5, -1.0, 2.0])
    v0 = t._version
    r = f(t)
    assert t._version > v0, name
    assert r.data_ptr() == t.data_ptr() and tuple(r.shape) == (3,)
    assert r._version == t._version


def test_augmented_assignment_and_setitem_bump_version():
    t = nc.tensor([1.0, 2.0])
    ptr, versions = t.data_ptr(), [t._version]
    for step in (lambda: t.__iadd__(1), lambda: t.__isub__(1), lambda: t.__imul__(3), lambda: t.__itruediv__(3),
                 lambda: t.__setitem__(0, 5.0), lambda: t[1:].fill_(0)):
        step()
        versions.append(t._version)
    assert all(b > a for a, b in zip(versions, versions[1:])), versions
    assert t.data_ptr() == ptr and t.tolist() == [5.0, 0.0]
    u = t + 1  # out of place: no version change
    assert t._version == versions[-1] and u._version == 0


def test_size_and_stride_of_a_0dim_tensor_raise_index_error():
    t = nc.tensor(3.0)
    for method in (t.size, t.stride):
        for d in (0, -1, 1):
            with pytest.raises(IndexError, match="no dimensions"):
                method(d)
    assert t.size() == () and t.stride() == ()
    with pytest.raises(IndexError, match="dimension 2 is out of range"):
        nc.ones(2, 3).stride(2)
    assert nc.ones(2, 3).size(-1) == 3 and nc.ones(2, 3).stride(-2) == 3


@pytest.mark.parametrize("dtype", ["float32", "float64", "float16", "bfloat16", "int64", "int8", "uint8", "bool"])
def test_copy_of_a_broadcast_source_fills(dtype):
    """A copy whose innermost source stride is 0 (an expanded tensor: clone, contiguous,
    sum's gradient) runs as a fill per run; the values are the broadcast ones."""
    base = np.array([[1], [0], [3]]) if dtype != "bool" else np.array([[True], [False], [True]])
    src = nc.tensor(base).to(getattr(nc, dtype))
    for shape in [(3, 1000), (3, 1), (3, 0)]:
        got = src.expand(*shape).clone()
        assert got.is_contiguous() and tuple(got.shape) == shape
        want = np.broadcast_to(base, shape)
        np.testing.assert_array_equal(got.to(nc.float64).numpy() if dtype == "bfloat16" else got.numpy(), want)
    scalar_row = nc.tensor(np.float32(2.5)).reshape([1]).expand(129)
    np.testing.assert_array_equal(scalar_row.contiguous().numpy(), np.full(129, 2.5, np.float32))
