"""The ``nccl`` backend of ``nn_core.distributed``: NCCL (the ``nvidia-nccl-cu13`` package) for CUDA
tensors. NCCL works on device memory, so this backend needs nn_core's CUDA backend; until that
exists, ``init_process_group("nccl")`` raises a clear RuntimeError after checking what is present
(the NCCL library, a GPU, nn_core's CUDA build), so a script fails at start-up and not mid-training.
"""
from __future__ import annotations


def nccl_library_path():
    """The path of libnccl from the nvidia-nccl-cu13 wheel, or None."""
    try:
        import importlib.util
        import os
        spec = importlib.util.find_spec("nvidia.nccl")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for root in spec.submodule_search_locations:
        lib = os.path.join(root, "lib")
        if os.path.isdir(lib):
            for name in sorted(os.listdir(lib)):
                if name.startswith("libnccl.so"):
                    return os.path.join(lib, name)
    return None


def cuda_backend_ready() -> bool:
    try:
        from .. import cuda
        return bool(cuda.is_available())
    except Exception:  # noqa: BLE001 - any failure means "not usable"
        return False


def is_available() -> bool:
    return nccl_library_path() is not None and cuda_backend_ready()


def create_group(timeout_s: float):
    missing = []
    if not cuda_backend_ready():
        missing.append("nn_core's CUDA backend and a GPU (nn_core.cuda.is_available() is False)")
    if nccl_library_path() is None:
        missing.append("the NCCL library (pip install nvidia-nccl-cu13)")
    raise RuntimeError("init_process_group(backend='nccl'): the nccl backend needs the CUDA backend / a GPU; "
                       "missing: " + "; ".join(missing or ["nn_core's CUDA tensors (not built yet)"]) +
                       ". Use backend='mpi' for CPU tensors.")
