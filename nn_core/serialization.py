"""``nn_core.save`` / ``nn_core.load``: tensors and nested containers in safetensors files.

No pickle: a file holds bytes and JSON, and loading never executes code.

File layout (the safetensors format, readable by the ``safetensors`` package and other tools):

    [8 bytes]  N, little-endian uint64: the header length
    [N bytes]  UTF-8 JSON: {name: {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]}, ...,
               "__metadata__": {str: str}}, padded with spaces so the buffer starts 64-byte aligned
    [rest]     the byte buffer; data_offsets are relative to its start; tensors are packed in offset order
               with no holes, widest dtypes first, so each tensor is aligned to its element size

nn_core's own metadata keys (all prefixed ``nn_core.``; other keys are the caller's):
    "nn_core.format"   "1"
    "nn_core.tree"     JSON of the saved object with each tensor replaced by a reference to its name
                       (encoding: see Note [Tree encoding])
    "nn_core.checksum" "xxh64:<16 hex digits>" of the canonical header (the header without this key, as
                       json.dumps(sort_keys=True, separators=(",", ":"))) followed by the whole buffer

Loading validates, before any byte is trusted: header length against the file size (and a 100 MB cap), the
JSON, every entry (known dtype, non-negative integer shape, shape product * itemsize == offsets span),
offsets sorted, non-overlapping and covering the buffer exactly, then the checksum (unless verify=False),
then the tree. Every problem raises ``CheckpointError`` (a ValueError) naming the file and the rule.

Sharing: tensors that are the same view of the same storage (tied weights, a tensor listed twice) are
stored once and come back as one tensor object; partially overlapping views are saved as separate values.
Non-contiguous tensors are saved as contiguous copies of their values.
"""
from __future__ import annotations

import base64
import io
import json
import math
import os
import tempfile
import threading
from collections import OrderedDict
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

from . import _C

Tensor = _C.Tensor

__all__ = ["CheckpointError", "save", "load", "load_file", "verify", "read_metadata"]

MAX_HEADER_BYTES = 100 * 1024 * 1024  # the safetensors package's cap
_ALIGN = 64
_FORMAT_VERSION = "1"
_RESERVED_PREFIX = "nn_core."
_CHECKSUM_KEY = "nn_core.checksum"
_TREE_KEY = "nn_core.tree"
_FORMAT_KEY = "nn_core.format"


class CheckpointError(ValueError):
    """A checkpoint file is malformed, corrupt, or does not match what it is loaded into."""


# safetensors dtype code <-> nn_core dtype (itemsize from the dtype itself)
_CODE_TO_DTYPE = {
    "F64": _C.DType.float64, "F32": _C.DType.float32, "F16": _C.DType.float16, "BF16": _C.DType.bfloat16,
    "I64": _C.DType.int64, "I32": _C.DType.int32, "I8": _C.DType.int8, "U8": _C.DType.uint8,
    "BOOL": _C.DType.bool,
}
_DTYPE_TO_CODE = {v: k for k, v in _CODE_TO_DTYPE.items()}
# Codes numpy arrays can hold; U16/I16/U32/U64 (which nn_core lacks) only ever load as numpy arrays.
_CODE_TO_NUMPY = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "I64": "<i8", "I32": "<i4", "I8": "i1", "U8": "u1",
                  "BOOL": "?", "I16": "<i2", "U16": "<u2", "U32": "<u4", "U64": "<u8"}
_NUMPY_TO_CODE = {np.dtype(v): k for k, v in _CODE_TO_NUMPY.items()}
_ITEMSIZE = {code: np.dtype(v).itemsize for code, v in _CODE_TO_NUMPY.items()}
_ITEMSIZE["BF16"] = 2


# ---- Note [Tree encoding] ---------------------------------------------------------------
# The saved object becomes one JSON value. JSON strings, booleans, null, integers and finite floats stand
# for themselves; every other value is a one-key JSON object whose key says what it is:
#   {"T": name}                 a tensor (the name of its safetensors entry); {"T": name, "g": 1} requires_grad
#   {"A": name}                 a numpy array (stored as a tensor, returned as a numpy array)
#   {"D": [[key, value], ...]}  a dict (keys: str, int, float, bool or None, themselves encoded); order kept
#   {"L": [...]} / {"U": [...]} a list / a tuple
#   {"F": "nan" | "inf" | "-inf"}  a non-finite float;  {"B": base64}  bytes
# Tensor names follow the path to the tensor: components joined by "/", where "~" is written "~0" and "/"
# "~1" (JSON-pointer escaping), so two paths never give the same name; a flat {str: tensor} dict (a state
# dict) therefore keeps its keys as names. A name already taken gets a "~x<n>" suffix, which escaping never
# produces.

def _escape(component) -> str:
    return str(component).replace("~", "~0").replace("/", "~1")


class _Encoder:
    def __init__(self) -> None:
        self.tensors: "OrderedDict[str, Tensor]" = OrderedDict()
        self._by_view: Dict[tuple, str] = {}
        self._used = {"__metadata__"}

    def _name(self, path: List[str]) -> str:
        base = "/".join(path) if path else "tensor"
        name, n = base, 0
        while name in self._used:
            name, n = f"{base}~x{n}", n + 1
        self._used.add(name)
        return name

    def _add_tensor(self, t: Tensor, path: List[str]) -> str:
        view = (t._storage_id(), t.storage_offset(), tuple(t.shape), tuple(t.stride()), t.dtype)
        name = self._by_view.get(view)
        if name is None:
            name = self._name(path)
            self._by_view[view] = name
            self.tensors[name] = t
        return name

    def encode(self, obj, path: List[str]):
        if obj is None or isinstance(obj, (bool, str)):
            return obj
        if isinstance(obj, int):
            return int(obj)
        if isinstance(obj, float):
            if math.isfinite(obj):
                return float(obj)
            return {"F": "nan" if math.isnan(obj) else ("inf" if obj > 0 else "-inf")}
        if isinstance(obj, Tensor):
            if obj.device.type != "cpu":
                raise ValueError(f"save: tensor at '{'/'.join(path)}' is on {obj.device}; only cpu tensors")
            node = {"T": self._add_tensor(obj.detach(), path)}
            if obj.requires_grad:
                node["g"] = 1
            return node
        if isinstance(obj, np.ndarray):
            dt = obj.dtype.newbyteorder("<") if obj.dtype.byteorder == ">" else obj.dtype
            if dt not in _NUMPY_TO_CODE:
                raise TypeError(f"save: numpy array at '{'/'.join(path)}' has dtype {obj.dtype}, which safetensors "
                                "cannot store")
            name = self._name(path)
            self.tensors[name] = np.ascontiguousarray(obj, dtype=dt)
            return {"A": name}
        if isinstance(obj, np.generic):
            return self.encode(obj.item(), path)
        if isinstance(obj, (bytes, bytearray)):
            return {"B": base64.b64encode(bytes(obj)).decode("ascii")}
        if isinstance(obj, dict):
            items = []
            for k, v in obj.items():
                if isinstance(k, np.generic):
                    k = k.item()
                if not (k is None or isinstance(k, (str, int, float, bool))):
                    raise TypeError(f"save: dict key {k!r} at '{'/'.join(path)}' has type {type(k).__name__}; "
                                    "keys must be str, int, float, bool or None")
                items.append([self.encode(k, path), self.encode(v, path + [_escape(k)])])
            return {"D": items}
        if isinstance(obj, (list, tuple)):
            body = [self.encode(v, path + [str(i)]) for i, v in enumerate(obj)]
            return {"L": body} if isinstance(obj, list) else {"U": body}
        if hasattr(obj, "state_dict") and callable(obj.state_dict):
            kind = "module" if hasattr(obj, "parameters") and hasattr(obj, "load_state_dict") else "object"
            raise TypeError(
                f"save: cannot save a whole {type(obj).__name__} {kind} at '{'/'.join(path) or '<root>'}': nn_core "
                "files hold tensors and plain values, never pickled code. Save its state_dict instead: "
                "nn_core.save(obj.state_dict(), f), then rebuild the object and call "
                "obj.load_state_dict(nn_core.load(f))")
        raise TypeError(f"save: cannot save a value of type {type(obj).__name__} at '{'/'.join(path) or '<root>'}' "
                        "(supported: tensors, numpy arrays, dict, list, tuple, str, int, float, bool, None, bytes)")


def _decode(node, tensors: Dict[str, Tensor], where: str):
    """Inverse of _Encoder.encode; every unexpected form raises CheckpointError (the tree is untrusted)."""
    if node is None or isinstance(node, (bool, str, int, float)):
        return node
    if isinstance(node, list) or not isinstance(node, dict) or len(node) not in (1, 2):
        raise CheckpointError(f"{where}: malformed tree node {str(node)[:80]}")
    if "T" in node or "A" in node:
        key = "T" if "T" in node else "A"
        name = node[key]
        if not isinstance(name, str) or name not in tensors:
            raise CheckpointError(f"{where}: tree refers to tensor {str(name)[:80]!r}, which the file does not hold")
        t = tensors[name]
        if key == "A":
            if len(node) != 1:
                raise CheckpointError(f"{where}: malformed array node {str(node)[:80]}")
            if isinstance(t, np.ndarray):
                return np.array(t)  # a copy: never keep the file mapped for a small array
            if t.dtype == _C.DType.bfloat16:
                raise CheckpointError(f"{where}: numpy array '{name}' has dtype bfloat16, which numpy cannot hold")
            return np.array(t.numpy())
        if isinstance(t, np.ndarray):
            raise CheckpointError(f"{where}: tensor '{name}' has dtype {t.dtype}, which nn_core cannot hold")
        if len(node) == 2:
            if node.get("g") != 1:
                raise CheckpointError(f"{where}: malformed tensor node {str(node)[:80]}")
            t = t.detach().requires_grad_(True) if t.dtype.is_floating_point else t
        return t
    if len(node) != 1:
        raise CheckpointError(f"{where}: malformed tree node {str(node)[:80]}")
    (tag, body), = node.items()
    if tag == "D" and isinstance(body, list):
        out = {}
        for item in body:
            if not isinstance(item, list) or len(item) != 2:
                raise CheckpointError(f"{where}: malformed dict item {str(item)[:80]}")
            k = _decode(item[0], tensors, where)
            if not (k is None or isinstance(k, (str, int, float, bool))):
                raise CheckpointError(f"{where}: dict key {str(k)[:80]} is not a scalar")
            out[k] = _decode(item[1], tensors, where)
        return out
    if tag in ("L", "U") and isinstance(body, list):
        items = [_decode(v, tensors, where) for v in body]
        return items if tag == "L" else tuple(items)
    if tag == "F" and body in ("nan", "inf", "-inf"):
        return float(body)
    if tag == "B" and isinstance(body, str):
        try:
            return base64.b64decode(body.encode("ascii"), validate=True)
        except (ValueError, UnicodeEncodeError) as e:
            raise CheckpointError(f"{where}: malformed bytes value ({e})") from None
    raise CheckpointError(f"{where}: unknown tree node {str(node)[:80]}")


# ---- writing ------------------------------------------------------------------------------
def _canonical(header: dict) -> bytes:
    """The bytes the checksum covers for a header (with the checksum key removed)."""
    h = dict(header)
    meta = dict(h.get("__metadata__") or {})
    meta.pop(_CHECKSUM_KEY, None)
    h["__metadata__"] = meta
    return json.dumps(h, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode("ascii")


def _checksum(header: dict, buffers) -> str:
    return "xxh64:%016x" % _C._xxh64([_canonical(header)] + list(buffers))


def _fsync_dir(directory: str) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # e.g. platforms without directory fds
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _is_writable_stream(obj) -> bool:
    return hasattr(obj, "write") and not isinstance(obj, (str, bytes, os.PathLike))


def _is_readable_stream(obj) -> bool:
    return hasattr(obj, "read") and not isinstance(obj, (str, bytes, os.PathLike))


def write_tensors(path, tensors: Dict[str, Any], metadata: Optional[Dict[str, str]] = None,
                  *, fsync: bool = True) -> None:
    """Writes a flat {name: tensor or numpy array} dict as a safetensors file, atomically.

    ``path`` may also be a binary file object (``io.BytesIO``, an open file): the bytes are
    written at its position and it is flushed; atomicity and fsync are then the caller's.

    The bytes go to a temporary file in the target's directory (".<name>.<pid>.<random>.tmp"), which is
    flushed and fsynced, then renamed over ``path``; the directory is fsynced so the rename survives a crash.
    A reader therefore sees the old file or the new one, never a mix. ``fsync=False`` skips both fsyncs
    (faster, still atomic against a crashing process, not against a power cut).
    """
    metadata = dict(metadata or {})
    for k, v in metadata.items():
        if not isinstance(k, str) or not isinstance(v, str):
            raise TypeError(f"save: metadata must map str to str, got {k!r}: {type(v).__name__}")
    # Widest dtypes first: with a 64-byte aligned buffer every tensor then starts at a multiple of its itemsize.
    order = sorted(tensors.items(), key=lambda kv: -kv[1].dtype.itemsize)
    header: dict = {}
    buffers = []
    offset = 0
    for name, t in order:
        if isinstance(t, np.ndarray):
            code = _NUMPY_TO_CODE[t.dtype]
            data = np.ascontiguousarray(t).reshape(-1).view(np.uint8)
        else:
            code = _DTYPE_TO_CODE[t.dtype]
            data = _C._tensor_bytes(t if t.is_contiguous() else t.contiguous())
        header[name] = {"dtype": code, "shape": [int(s) for s in t.shape],
                        "data_offsets": [offset, offset + data.nbytes]}
        buffers.append(data)
        offset += data.nbytes
    # The checksum covers the canonical header (which does not depend on the checksum) and the buffer, so it
    # is computed on a second thread (the hash releases the GIL) while the bytes are written behind a
    # placeholder of the same width; the header is then rewritten in place before the fsync.
    metadata[_CHECKSUM_KEY] = "xxh64:" + "0" * 16
    header = {"__metadata__": metadata, **header}
    canonical = _canonical(header)
    digest: list = []
    hasher = threading.Thread(target=lambda: digest.append(_C._xxh64([canonical] + buffers)), daemon=True)

    def header_bytes() -> bytes:
        text = json.dumps(header, separators=(",", ":"), ensure_ascii=True).encode("ascii")
        text += b" " * ((-(8 + len(text))) % _ALIGN)
        return len(text).to_bytes(8, "little") + text

    if _is_writable_stream(path):  # a file object: written in place, no rename to make it atomic
        digest_value = _C._xxh64([canonical] + buffers)
        metadata[_CHECKSUM_KEY] = "xxh64:%016x" % digest_value
        path.write(header_bytes())
        for data in buffers:
            path.write(memoryview(data).cast("B"))
        if hasattr(path, "flush"):
            path.flush()
        return
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.{os.getpid()}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            hasher.start()
            placeholder = header_bytes()
            f.write(placeholder)
            for data in buffers:
                f.write(memoryview(data))
            hasher.join()
            if not digest:
                raise RuntimeError("save: computing the checksum failed")
            metadata[_CHECKSUM_KEY] = "xxh64:%016x" % digest[0]
            final = header_bytes()
            assert len(final) == len(placeholder)
            f.seek(0)
            f.write(final)
            f.flush()
            if fsync:
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if hasher.is_alive():
            hasher.join()
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    if fsync:
        _fsync_dir(directory)


def save(obj, path, *, metadata: Optional[Dict[str, str]] = None, fsync: bool = True) -> None:
    """Saves a tensor, or (nested) dicts/lists/tuples of tensors, numpy arrays and plain values, to ``path``
    (a file name or a binary file object such as ``io.BytesIO``).

    The file is a safetensors file: a flat dict of tensors (a ``state_dict``) keeps its keys as tensor names,
    so other tools read it directly. ``metadata`` (str -> str) goes into the header; keys starting with
    "nn_core." are reserved. The write is atomic (see ``write_tensors``).
    """
    for k in metadata or {}:
        if isinstance(k, str) and k.startswith(_RESERVED_PREFIX):
            raise ValueError(f"save: metadata key '{k}' uses the reserved prefix '{_RESERVED_PREFIX}'")
    enc = _Encoder()
    try:
        tree = enc.encode(obj, [])
    except RecursionError:
        raise ValueError("save: the object is nested too deeply") from None
    meta = dict(metadata or {})
    meta[_FORMAT_KEY] = _FORMAT_VERSION
    meta[_TREE_KEY] = json.dumps(tree, separators=(",", ":"), ensure_ascii=True, allow_nan=False)
    write_tensors(path, enc.tensors, meta, fsync=fsync)


# ---- reading ------------------------------------------------------------------------------
class _Entry:
    """One validated header entry; ``dtype`` is None for codes only numpy can hold (U16, I16, U32, U64)."""
    __slots__ = ("name", "dtype", "code", "itemsize", "shape", "begin", "end")

    def __init__(self, name, code, shape, begin, end):
        self.name, self.code, self.dtype, self.itemsize, self.shape, self.begin, self.end = \
            name, code, _CODE_TO_DTYPE.get(code), _ITEMSIZE[code], shape, begin, end

    def empty(self):
        if self.dtype is None:
            return np.empty(self.shape, dtype=_CODE_TO_NUMPY[self.code])
        return _C._empty(list(self.shape), self.dtype)

    def byte_view(self, value):
        return value.reshape(-1).view(np.uint8) if isinstance(value, np.ndarray) else _C._tensor_bytes(value)


def _is_int(v) -> bool:
    return type(v) is int  # bool is an int subclass; JSON true must not pass as 1


def _parse_header(f, file_size: int, where: str) -> Tuple[dict, List[_Entry], Dict[str, str], int]:
    """Reads and validates the header; returns (raw header, entries in header order, metadata, data start)."""
    if file_size < 8:
        raise CheckpointError(f"{where}: file is {file_size} bytes, shorter than the 8-byte header length")
    n = int.from_bytes(f.read(8), "little")
    if n > file_size - 8:
        raise CheckpointError(f"{where}: header length {n} exceeds the {file_size - 8} bytes after it "
                              "(truncated file or corrupt length)")
    if n > MAX_HEADER_BYTES:
        raise CheckpointError(f"{where}: header length {n} exceeds the {MAX_HEADER_BYTES}-byte cap")
    if n < 2:
        raise CheckpointError(f"{where}: header length {n} is too short for a JSON object")
    raw = f.read(n)
    if len(raw) != n:
        raise CheckpointError(f"{where}: file ended inside the header (changed while reading?)")
    if raw[:1] != b"{":
        raise CheckpointError(f"{where}: header does not start with '{{' (not a safetensors file?)")
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise CheckpointError(f"{where}: header is not valid JSON ({str(e)[:100]})") from None
    if not isinstance(header, dict):
        raise CheckpointError(f"{where}: header is not a JSON object")
    metadata = header.get("__metadata__", {})
    if metadata is None:
        metadata = {}
    if not isinstance(metadata, dict) or not all(isinstance(k, str) and isinstance(v, str)
                                                 for k, v in metadata.items()):
        raise CheckpointError(f"{where}: __metadata__ must map strings to strings")
    data_start = 8 + n
    buffer_size = file_size - data_start
    entries = []
    for name, info in header.items():
        if name == "__metadata__":
            continue
        what = f"{where}: tensor '{name[:100]}'"
        if not isinstance(info, dict) or set(info) != {"dtype", "shape", "data_offsets"}:
            raise CheckpointError(f"{what}: entry must have exactly 'dtype', 'shape' and 'data_offsets'")
        code, shape, offs = info["dtype"], info["shape"], info["data_offsets"]
        if not isinstance(code, str) or code not in _ITEMSIZE:
            raise CheckpointError(f"{what}: unknown dtype {str(code)[:20]!r} (known: {', '.join(_ITEMSIZE)})")
        if not isinstance(shape, list) or not all(_is_int(s) and s >= 0 for s in shape):
            raise CheckpointError(f"{what}: shape must be a list of non-negative integers, got {str(shape)[:80]}")
        if not (isinstance(offs, list) and len(offs) == 2 and all(_is_int(o) for o in offs)
                and 0 <= offs[0] <= offs[1] <= buffer_size):
            raise CheckpointError(f"{what}: data_offsets {str(offs)[:80]} are not within the "
                                  f"{buffer_size}-byte buffer")
        numel = 0 if 0 in shape else 1
        if numel:
            for s in shape:
                numel *= s
                if numel > buffer_size:  # stop before the product grows huge
                    break
        nbytes = numel * _ITEMSIZE[code]
        if nbytes != offs[1] - offs[0]:
            raise CheckpointError(f"{what}: shape {shape[:8]} of {code} needs {nbytes} bytes but data_offsets "
                                  f"span {offs[1] - offs[0]}")
        entries.append(_Entry(name, code, shape, offs[0], offs[1]))
    pos, hole = 0, None
    for e in sorted(entries, key=lambda e: (e.begin, e.end)):
        if e.begin < pos:
            raise CheckpointError(f"{where}: tensor '{e.name[:100]}' at bytes [{e.begin}, {e.end}) overlaps the "
                                  f"tensor before it (which ends at {pos})")
        if e.begin > pos and hole is None:
            hole = f"{where}: tensor '{e.name[:100]}' at offset {e.begin} leaves a hole before it (expected {pos})"
        pos = e.end
    if hole is not None:
        raise CheckpointError(hole)
    if pos != buffer_size:
        raise CheckpointError(f"{where}: tensors cover {pos} bytes of the {buffer_size}-byte buffer")
    return header, entries, metadata, data_start


def _check_checksum(header, metadata, buffers, where: str) -> None:
    stored = metadata.get(_CHECKSUM_KEY)
    if stored is None:
        raise CheckpointError(f"{where}: the file has no checksum (written by another tool, or its metadata is "
                              "damaged); pass verify=False to load it with the structural checks only")
    if not (isinstance(stored, str) and stored.startswith("xxh64:") and len(stored) == 22):
        raise CheckpointError(f"{where}: unknown checksum {stored[:40]!r}")
    actual = _checksum(header, buffers)
    if actual != stored:
        raise CheckpointError(f"{where}: checksum mismatch (file says {stored}, contents give {actual}): "
                              "the file is corrupt")


def _tensors_mmap(f, entries, data_start: int, file_size: int) -> Tuple[Dict[str, Tensor], list]:
    """Tensors viewing a copy-on-write map of the file (zero-copy when aligned); also the buffer to hash."""
    mm = np.memmap(f, dtype=np.uint8, mode="c", offset=0, shape=(file_size,))
    out = {}
    for e in entries:
        piece = mm[data_start + e.begin: data_start + e.end]
        if e.end > e.begin and e.dtype is not None and (data_start + e.begin) % e.itemsize == 0:
            out[e.name] = _C._tensor_from_buffer(piece, e.dtype, e.shape)
        else:  # empty, numpy-only, or misaligned for this dtype (another writer's layout): copy
            t = e.empty()
            e.byte_view(t)[:] = piece
            out[e.name] = t
    return out, [mm[data_start:]]


def _tensors_read(f, entries, data_start: int) -> Tuple[Dict[str, Tensor], list]:
    """Tensors read into fresh nn_core memory (one copy); also the buffers to hash, in offset order."""
    out = {}
    bufs = []
    for e in sorted(entries, key=lambda e: (e.begin, e.end)):
        t = e.empty()
        view = e.byte_view(t)
        f.seek(data_start + e.begin)
        got = f.readinto(memoryview(view)) if view.nbytes else 0
        if got != view.nbytes:
            raise CheckpointError(f"file ended inside tensor '{e.name[:100]}' (changed while reading?)")
        out[e.name] = t
        bufs.append(view)
    return out, bufs


def _read(path, verify: bool, mmap: bool):
    if _is_readable_stream(path):  # a file object: its remaining bytes, read into memory
        where = f"load <{type(path).__name__}>"
        data = path.read()
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"{where}: the file object must be opened in binary mode (read() gave "
                            f"{type(data).__name__})")
        f = io.BytesIO(data)
        header, entries, metadata, data_start = _parse_header(f, len(data), where)
        tensors, bufs = _tensors_read(f, entries, data_start)
        if verify:
            _check_checksum(header, metadata, bufs, where)
        return tensors, entries, metadata, where
    where = f"load '{os.fspath(path)}'"
    try:
        f = open(path, "rb")
    except IsADirectoryError:
        raise CheckpointError(f"{where}: is a directory") from None
    with f:
        file_size = os.fstat(f.fileno()).st_size
        header, entries, metadata, data_start = _parse_header(f, file_size, where)
        if mmap and file_size > data_start:
            tensors, bufs = _tensors_mmap(f, entries, data_start, file_size)
        else:
            tensors, bufs = _tensors_read(f, entries, data_start)
        if verify:
            _check_checksum(header, metadata, bufs, where)
    return tensors, entries, metadata, where


def load_file(path, *, verify: bool = True, mmap: bool = True) -> Tuple[Any, Dict[str, str]]:
    """(object, user metadata) from a file written by ``save`` (or a flat {name: tensor} dict, in header
    order, for a safetensors file from another writer). See ``load`` for the options."""
    tensors, entries, metadata, where = _read(path, verify, mmap)
    user_meta = {k: v for k, v in metadata.items() if not k.startswith(_RESERVED_PREFIX)}
    tree_text = metadata.get(_TREE_KEY)
    if tree_text is None:
        return {e.name: tensors[e.name] for e in entries}, user_meta
    fmt = metadata.get(_FORMAT_KEY)
    if fmt != _FORMAT_VERSION:
        raise CheckpointError(f"{where}: unsupported nn_core format version {str(fmt)[:20]!r}")
    try:
        tree = json.loads(tree_text)
        return _decode(tree, tensors, where), user_meta
    except (ValueError, RecursionError) as e:
        if isinstance(e, CheckpointError):
            raise
        raise CheckpointError(f"{where}: the object tree is malformed ({str(e)[:100]})") from None


def load(path, map_location=None, *, verify: bool = True, mmap: bool = True, weights_only=None):
    """Loads what ``save`` wrote (or any safetensors file, as a flat dict of tensors).

    ``verify=True`` requires the file's checksum and checks it (files from other safetensors writers have
    none: load those with ``verify=False``); ``verify=False`` skips it (the structural checks always run). ``mmap=True`` maps the file
    copy-on-write and returns tensors viewing it without copying where each tensor's offset is aligned to
    its element size (always, for files nn_core wrote); writing into them never changes the file.
    ``mmap=False`` reads into fresh memory. ``path`` may also be a binary file object (``io.BytesIO``, an
    open file): its remaining bytes are read into memory. Raises CheckpointError for any malformed or
    corrupt file.

    ``map_location`` (None, "cpu" or a cpu device) and ``weights_only`` are accepted for code written for
    ``torch.load``; nn_core files never hold code, so every load is weights-only.
    """
    if map_location is not None and str(map_location).split(":")[0] != "cpu":
        raise RuntimeError(f"load: map_location={map_location!r} is not available: this build of nn_core has "
                           "only the cpu device")
    return load_file(path, verify=verify, mmap=mmap)[0]


def verify(path) -> None:
    """Checks a file's structure and checksum without keeping its tensors; raises CheckpointError."""
    load_file(path, verify=True, mmap=True)


def read_metadata(path) -> Dict[str, str]:
    """The header's user metadata (structure validated, contents not verified)."""
    where = f"read_metadata '{os.fspath(path)}'"
    with open(path, "rb") as f:
        _, _, metadata, _ = _parse_header(f, os.fstat(f.fileno()).st_size, where)
    return {k: v for k, v in metadata.items() if not k.startswith(_RESERVED_PREFIX)}
