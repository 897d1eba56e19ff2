"""``nn_core.nn.utils.rnn``: sequences of different lengths for the recurrent layers, as
``torch.nn.utils.rnn``: PackedSequence, pack_padded_sequence, pad_packed_sequence,
pad_sequence, pack_sequence.

Layout (PyTorch's): a padded batch is (T, B, *) (``batch_first``: (B, T, *)); a
PackedSequence holds ``data`` (sum(lengths), *), the rows of every time step one after
the other for the sequences still running, longest sequence first; ``batch_sizes`` (an
int64 CPU tensor of length T) says how many rows each step has; ``sorted_indices`` maps
packed position -> original batch entry (None when the input was already sorted) and
``unsorted_indices`` is its inverse.

Packing and padding are one ``index_select`` each over the flattened (T*B, *) padded
tensor, so gradients flow through them like through any other op.
"""
from __future__ import annotations

from typing import List, NamedTuple, Optional

import nn_core as nc
from nn_core import Tensor


class PackedSequence(NamedTuple):
    data: Tensor
    batch_sizes: Tensor
    sorted_indices: Optional[Tensor] = None
    unsorted_indices: Optional[Tensor] = None

    @property
    def is_cuda(self) -> bool:
        return False

    def to(self, *args, **kwargs) -> "PackedSequence":
        """The same sequence with ``data`` converted (``data.to(...)``)."""
        return self._replace(data=self.data.to(*args, **kwargs))


def _lengths_list(lengths, op: str) -> List[int]:
    if isinstance(lengths, Tensor):
        if lengths.dim() != 1:
            raise ValueError(f"{op}: lengths must be 1-D, got shape {tuple(lengths.shape)}")
        lengths = lengths.tolist()
    out = [int(v) for v in lengths]
    return out


def _batch_sizes(sorted_lengths: List[int]) -> List[int]:
    """batch_sizes[t] = how many of the (descending) lengths exceed t."""
    T = sorted_lengths[0] if sorted_lengths else 0
    return [sum(1 for n in sorted_lengths if n > t) for t in range(T)]


def _packed_rows(batch_sizes: List[int], B: int) -> List[int]:
    """The flat (t * B + b) row of the padded (T, B) grid behind each packed row."""
    return [t * B + b for t, bs in enumerate(batch_sizes) for b in range(bs)]


def invert_permutation(permutation: Optional[Tensor]) -> Optional[Tensor]:
    if permutation is None:
        return None
    order = permutation.tolist()
    inverse = [0] * len(order)
    for i, p in enumerate(order):
        inverse[p] = i
    return nc.tensor(inverse, dtype=nc.int64)


def pack_padded_sequence(input: Tensor, lengths, batch_first: bool = False,
                         enforce_sorted: bool = True) -> PackedSequence:
    """Packs a padded batch (T, B, *) (``batch_first``: (B, T, *)) whose sequence b has
    ``lengths[b]`` valid steps. With ``enforce_sorted`` the lengths must be descending;
    otherwise the batch is sorted here and the permutation kept in the result."""
    op = "pack_padded_sequence"
    lengths = _lengths_list(lengths, op)
    if input.dim() < 2:
        raise ValueError(f"{op}: input must have at least 2 dims (time and batch), got shape {tuple(input.shape)}")
    if batch_first:
        input = input.transpose(0, 1)
    T, B = int(input.shape[0]), int(input.shape[1])
    if len(lengths) != B:
        raise ValueError(f"{op}: expected {B} lengths (the batch size of input {tuple(input.shape)}), "
                         f"got {len(lengths)}")
    if any(n <= 0 for n in lengths):
        raise ValueError(f"{op}: every length must be >= 1, got {lengths}")
    if any(n > T for n in lengths):
        raise ValueError(f"{op}: a length of {max(lengths)} exceeds the input's {T} time steps")
    if enforce_sorted:
        if any(lengths[i] < lengths[i + 1] for i in range(B - 1)):
            raise RuntimeError(f"{op}: `lengths` array must be sorted in decreasing order when "
                               f"`enforce_sorted` is True (got {lengths}); pass enforce_sorted=False to sort here")
        sorted_indices = None
        sorted_lengths = lengths
    else:
        order = sorted(range(B), key=lambda b: -lengths[b])  # stable: ties keep batch order
        sorted_indices = nc.tensor(order, dtype=nc.int64)
        sorted_lengths = [lengths[b] for b in order]
        input = input.index_select(1, sorted_indices)
    batch_sizes = _batch_sizes(sorted_lengths)
    rest = tuple(input.shape[2:])
    flat = input.reshape((T * B,) + rest)
    data = flat.index_select(0, nc.tensor(_packed_rows(batch_sizes, B), dtype=nc.int64))
    return PackedSequence(data, nc.tensor(batch_sizes, dtype=nc.int64), sorted_indices,
                          invert_permutation(sorted_indices))


def pad_packed_sequence(sequence: PackedSequence, batch_first: bool = False, padding_value: float = 0.0,
                        total_length: Optional[int] = None):
    """The inverse of pack_padded_sequence: (padded (T, B, *) or (B, T, *), lengths) in
    the original batch order; ``total_length`` pads T up to that many steps."""
    op = "pad_packed_sequence"
    data, batch_sizes = sequence.data, sequence.batch_sizes.tolist()
    T = len(batch_sizes)
    B = int(batch_sizes[0]) if T else 0
    if total_length is not None:
        if total_length < T:
            raise ValueError(f"{op}: total_length={total_length} is less than the longest sequence's {T} steps")
        T = int(total_length)
    rest = tuple(data.shape[1:])
    n = int(data.shape[0])
    if n != sum(batch_sizes):
        raise ValueError(f"{op}: data has {n} rows but batch_sizes sum to {sum(batch_sizes)}")
    # Each padded (t, b) row: its packed row, or the padding row appended at index n.
    source = [n] * (T * B)
    for i, row in enumerate(_packed_rows(batch_sizes, B)):
        source[row] = i
    padding = nc.full((1,) + rest, padding_value, dtype=data.dtype)
    padded = nc.cat([data, padding], 0).index_select(0, nc.tensor(source, dtype=nc.int64)).reshape((T, B) + rest)
    lengths = [sum(1 for bs in batch_sizes if bs > b) for b in range(B)]
    if sequence.unsorted_indices is not None:
        padded = padded.index_select(1, sequence.unsorted_indices)
        lengths = [lengths[i] for i in sequence.unsorted_indices.tolist()]
    if batch_first:
        padded = padded.transpose(0, 1)
    return padded, nc.tensor(lengths, dtype=nc.int64)


def pad_sequence(sequences, batch_first: bool = False, padding_value: float = 0.0,
                 padding_side: str = "right") -> Tensor:
    """Stacks tensors of shape (L_i, *) into (T, B, *) (``batch_first``: (B, T, *)) with
    T = max L_i, padding each with ``padding_value`` on ``padding_side``."""
    op = "pad_sequence"
    if padding_side not in ("right", "left"):
        raise ValueError(f"{op}: padding_side must be 'right' or 'left', got {padding_side!r}")
    sequences = list(sequences)
    if not sequences:
        raise ValueError(f"{op}: received an empty list of sequences")
    rest = tuple(sequences[0].shape[1:])
    for s in sequences:
        if s.dim() < 1 or tuple(s.shape[1:]) != rest:
            raise ValueError(f"{op}: every sequence must have shape (L, *{rest}), got {tuple(s.shape)}")
    T = max(int(s.shape[0]) for s in sequences)
    padded = []
    for s in sequences:
        missing = T - int(s.shape[0])
        if missing:
            pad = nc.full((missing,) + rest, padding_value, dtype=s.dtype)
            s = nc.cat([s, pad] if padding_side == "right" else [pad, s], 0)
        padded.append(s)
    return nc.stack(padded, 0 if batch_first else 1)


def pack_sequence(sequences, enforce_sorted: bool = True) -> PackedSequence:
    """Packs a list of (L_i, *) tensors (pad_sequence, then pack_padded_sequence)."""
    lengths = [int(s.shape[0]) for s in sequences]
    return pack_padded_sequence(pad_sequence(sequences), lengths, enforce_sorted=enforce_sorted)


def unpad_sequence(padded_sequences: Tensor, lengths, batch_first: bool = False) -> List[Tensor]:
    """The list of sequences of a padded batch, each cut to its length."""
    if not batch_first:
        padded_sequences = padded_sequences.transpose(0, 1)
    return [padded_sequences[b, :n] for b, n in enumerate(_lengths_list(lengths, "unpad_sequence"))]


def unpack_sequence(packed_sequences: PackedSequence) -> List[Tensor]:
    """The list of sequences of a PackedSequence, in the original batch order."""
    padded, lengths = pad_packed_sequence(packed_sequences, batch_first=True)
    return unpad_sequence(padded, lengths, batch_first=True)


__all__ = ["PackedSequence", "pack_padded_sequence", "pad_packed_sequence", "pad_sequence", "pack_sequence",
           "unpad_sequence", "unpack_sequence", "invert_permutation"]
