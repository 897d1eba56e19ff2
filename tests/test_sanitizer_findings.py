"""Regression tests for reports of the ASan + UBSan build (docs/sanitizers.md).

Each test is one input that made the sanitized module report undefined behaviour; in a
Release build the same input ran on silently with wrapped arithmetic. They must now raise a
clear error (or work) in every build.
"""
import numpy as np
import pytest

import nn_core as nc


@pytest.mark.parametrize("factory", [nc.zeros, nc.ones, nc.empty])
def test_zero_element_shape_whose_strides_overflow_int64_is_refused(factory):
    # UBSan: signed integer overflow in contiguous_strides (csrc/core/tensor.cpp): the tensor has
    # no elements, but the stride of dim 0 would be 3 * (2**63 - 1) * 1000.
    with pytest.raises(ValueError, match=r"stride calculation overflowed int64"):
        factory([0, 3, 2**63 - 1, 1000], dtype=nc.uint8)


def test_zero_element_shapes_with_large_but_representable_strides_still_work():
    t = nc.zeros([0, 2**31, 2**31], dtype=nc.uint8)
    assert t.shape == (0, 2**31, 2**31) and t.numel() == 0
    assert t.stride() == (2**62, 2**31, 1)


def test_empty_bool_tensors_hold_valid_bools():
    """UBSan (api_fuzz seed 2 under the sanitizer build): `empty(..., dtype=bool)` returned
    uninitialised bytes, and the first kernel to read them as bool loaded e.g. 190, which is
    undefined behaviour. User-facing empty bool tensors now start False."""
    def after_garbage(make, nbytes):
        junk = nc.full([nbytes], 190, dtype=nc.uint8)  # freed, its block is what the allocator
        del junk                                        # hands out next for this size
        return make()

    for t in (after_garbage(lambda: nc.empty(3, 257, dtype=nc.bool), 3 * 257),
              after_garbage(lambda: nc.empty_like(nc.ones(5, 7), dtype=nc.bool), 35)):
        raw = t.numpy().view(np.uint8)
        assert set(np.unique(raw).tolist()) <= {0}
        assert not t.any().item() and t.to(nc.uint8).sum().item() == 0


def test_integer_arithmetic_wraps_without_undefined_behaviour():
    """UBSan (api_fuzz under the sanitizer build): sum / cumsum / cumprod / mul of integer
    tensors overflowed signed arithmetic, which is undefined in C++. The kernels' units are
    built with -fwrapv, so the documented two's-complement wrap (PyTorch's, NumPy's) is
    defined behaviour; the results equal NumPy's wrapping ones."""
    big = np.array([2**62, 2**62, 2**62], dtype=np.int64)
    t = nc.tensor(big)
    with np.errstate(over="ignore"):
        assert t.sum().item() == int(big.sum())
        np.testing.assert_array_equal(nc.cumsum(t, 0).numpy(), np.cumsum(big))
        np.testing.assert_array_equal(t.cumprod(0).numpy(), np.cumprod(big))
        np.testing.assert_array_equal((t * 3).numpy(), big * 3)
    i32 = nc.tensor(np.array([2**31 - 1, 4], dtype=np.int32))
    assert i32.sum(dtype=nc.int32).item() == int(np.array([2**31 - 1, 4], np.int32).sum(dtype=np.int32))


def test_reshape_to_a_size_past_int64_is_a_clear_error():
    """UBSan: x.repeat(2**40, 2**40, 0) multiplied 2**40 * 2**40 in reshape's size inference."""
    x = nc.ones(2)
    with pytest.raises(ValueError, match="overflows int64"):
        x.reshape(2**40, 2**40, -1)
    with pytest.raises((ValueError, MemoryError, RuntimeError)):
        x.repeat(2**40, 2**40, 0)
    # and an empty tensor repeated past int64 in one dim (api_fuzz seed 8 under UBSan)
    with pytest.raises(ValueError, match="repeat: .* past int64"):
        nc.zeros(0, 3).tile(2**62)


def test_integer_accumulation_wraps_in_index_put_and_scatter_add():
    """UBSan (api_fuzz seed 7, AVX2 path): index_put_(accumulate=True) on int64 overflowed."""
    big = np.full(3, 2**62 + 2**61, dtype=np.int64)
    with np.errstate(over="ignore"):
        want = big + big
    t = nc.tensor(big.copy())
    t.index_put_([nc.tensor([0, 1, 2])], nc.tensor(big), True)
    np.testing.assert_array_equal(t.numpy(), want)
    s = nc.tensor(big.copy()).scatter_add(0, nc.tensor([0, 1, 2]), nc.tensor(big))
    np.testing.assert_array_equal(s.numpy(), want)
