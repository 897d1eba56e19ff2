"""Regression tests for reports of the ASan + UBSan build (docs/sanitizers.md).

Each test is one input that made the sanitized module report undefined behaviour; in a
Release build the same input ran on silently with wrapped arithmetic. They must now raise a
clear error (or work) in every build.
"""
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
