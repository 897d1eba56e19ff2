"""``nn_core.checkpoint``: save and restore a whole training state, and ``CheckpointManager``.

A training state is any set of named objects following PyTorch's protocol (``state_dict()`` /
``load_state_dict(d)``: modules, optimizers, LR schedulers, data loaders) or plain values, plus the step,
the epoch, user metadata and the RNG states (nn_core's always; Python's ``random`` and numpy's global
generator on request). It is stored with ``nn_core.save`` (one safetensors file, no pickle) as

    {"kind": "nn_core.checkpoint", "version": 1, "step": int|None, "epoch": int|None, "metadata": {...},
     "objects": {name: state_dict or plain value}, "rng": {"nn_core": (seed, offset),
                 "python": random.getstate(), "numpy": numpy.random.get_state()}}

Restoring validates everything first (file checksum, which objects are present, module keys/shapes/dtypes,
optimizer parameter groups and state shapes, RNG state forms) and only then writes: the objects without
nn_core-side validation (schedulers, loaders, unknown types) are loaded first, then optimizers, then
modules, then the RNGs; if a ``load_state_dict`` still raises, the objects already loaded are put back
from the state they had before (their own ``state_dict()``), and CheckpointError is raised.
"""
from __future__ import annotations

import os
import random
import re
import warnings
from typing import Any, Dict, List, Optional

import numpy as np

from . import _C
from .serialization import CheckpointError, load as _load, save as _save, verify as _verify

Tensor = _C.Tensor

__all__ = ["CheckpointError", "CheckpointWarning", "Checkpoint", "save", "load", "CheckpointManager"]

_KIND = "nn_core.checkpoint"


class CheckpointWarning(UserWarning):
    """A checkpoint was skipped (it failed verification) or a stale temporary file was removed."""


class Checkpoint:
    """What ``load`` returns: ``step``, ``epoch``, ``metadata`` and every saved object's state by name
    (``objects``; e.g. a data-loader position saved as a plain dict)."""

    def __init__(self, path: str, state: dict):
        self.path = path
        self.step: Optional[int] = state.get("step")
        self.epoch: Optional[int] = state.get("epoch")
        self.metadata: Dict[str, Any] = state.get("metadata") or {}
        self.objects: Dict[str, Any] = state["objects"]
        self.rng: Dict[str, Any] = state.get("rng") or {}

    def __repr__(self) -> str:
        return f"Checkpoint(path={self.path!r}, step={self.step}, epoch={self.epoch}, objects={list(self.objects)})"


# ---- saving ---------------------------------------------------------------------------------
def _rng_states(python_rng: bool, numpy_rng: bool) -> dict:
    rng = {"nn_core": tuple(_C.get_rng_state())}
    if python_rng:
        rng["python"] = random.getstate()
    if numpy_rng:
        rng["numpy"] = np.random.get_state(legacy=True)
    return rng


def save(path, *, step: Optional[int] = None, epoch: Optional[int] = None, metadata: Optional[dict] = None,
         python_rng: bool = False, numpy_rng: bool = False, fsync: bool = True, **objects) -> None:
    """Saves a training state to ``path`` atomically.

        nn_core.checkpoint.save("run/ckpt.safetensors", model=model, optimizer=opt, scheduler=sched,
                                data_loader=loader, step=step, epoch=epoch, metadata={"loss": 0.31})

    Each keyword object is stored as its ``state_dict()`` when it has one, else as it is (a dict of
    positions, a number, ...). nn_core's RNG state is always stored; ``python_rng`` / ``numpy_rng`` add
    Python's ``random`` and numpy's global generator. ``metadata`` is any JSON-like dict.
    """
    state = {
        "kind": _KIND, "version": 1, "step": step, "epoch": epoch, "metadata": dict(metadata or {}),
        "objects": {name: (obj.state_dict() if hasattr(obj, "state_dict") else obj) for name, obj in objects.items()},
        "rng": _rng_states(python_rng, numpy_rng),
    }
    _save(state, path, fsync=fsync)


# ---- validation ----------------------------------------------------------------------------------
def _describe(t) -> str:
    return f"shape {tuple(t.shape)} {t.dtype}"


def _validate_module(name: str, module, saved, strict: bool) -> None:
    if not isinstance(saved, dict):
        raise CheckpointError(f"{name}: the checkpoint holds a {type(saved).__name__}, not a state dict")
    own = module.state_dict()
    problems: List[str] = []
    missing = [k for k in own if k not in saved]
    unexpected = [k for k in saved if k not in own]
    if strict and missing:
        problems.append("missing keys: " + ", ".join(missing))
    if strict and unexpected:
        problems.append("unexpected keys: " + ", ".join(map(str, unexpected)))
    for k, target in own.items():
        if k not in saved:
            continue
        value = saved[k]
        if not isinstance(value, Tensor):
            problems.append(f"{k}: checkpoint holds a {type(value).__name__}, not a tensor")
        elif tuple(value.shape) != tuple(target.shape) or value.dtype != target.dtype:
            problems.append(f"{k}: checkpoint has {_describe(value)}, model has {_describe(target)}")
    if problems:
        raise CheckpointError(f"{name} ({type(module).__name__}): " + "; ".join(problems))


def _validate_optimizer(name: str, optimizer, saved) -> None:
    """Checks PyTorch-style optimizer state: {"state": {int: {key: tensor|number}}, "param_groups": [...]}."""
    if not (isinstance(saved, dict) and isinstance(saved.get("state"), dict)
            and isinstance(saved.get("param_groups"), list)):
        raise CheckpointError(f"{name}: the checkpoint's optimizer state lacks 'state' / 'param_groups'")
    own = optimizer.state_dict()
    own_groups = own["param_groups"]
    saved_groups = saved["param_groups"]
    if len(own_groups) != len(saved_groups):
        raise CheckpointError(f"{name}: checkpoint has {len(saved_groups)} parameter groups, the optimizer "
                              f"{len(own_groups)}")
    params = []  # the optimizer's parameters in id order, when it exposes them (PyTorch's param_groups)
    live_groups = getattr(optimizer, "param_groups", None)
    for g, (mine, theirs) in enumerate(zip(own_groups, saved_groups)):
        if not isinstance(theirs, dict) or not isinstance(theirs.get("params"), list):
            raise CheckpointError(f"{name}: parameter group {g} has no 'params' list")
        if len(mine["params"]) != len(theirs["params"]):
            raise CheckpointError(f"{name}: parameter group {g} has {len(theirs['params'])} parameters in the "
                                  f"checkpoint, {len(mine['params'])} in the optimizer")
        if live_groups is not None:
            params.extend(live_groups[g]["params"])
    saved_ids = [i for grp in saved_groups for i in grp["params"]]
    if len(set(map(repr, saved_ids))) != len(saved_ids):
        raise CheckpointError(f"{name}: parameter ids repeat across groups")
    position = {pid: n for n, pid in enumerate(saved_ids)}
    for pid, entry in saved["state"].items():
        if pid not in position:
            raise CheckpointError(f"{name}: state for parameter id {pid!r}, which no parameter group lists")
        if not isinstance(entry, dict):
            raise CheckpointError(f"{name}: state of parameter {pid!r} is a {type(entry).__name__}, not a dict")
        current = own["state"].get(pid, {}) if isinstance(own.get("state"), dict) else {}
        param = params[position[pid]] if len(params) == len(saved_ids) else None
        for key, value in entry.items():
            if not isinstance(value, Tensor):
                continue
            ref = current.get(key)
            if isinstance(ref, Tensor) and (tuple(ref.shape) != tuple(value.shape) or ref.dtype != value.dtype):
                raise CheckpointError(f"{name}: state[{pid!r}][{key!r}] has {_describe(value)} in the checkpoint, "
                                      f"{_describe(ref)} in the optimizer")
            if param is not None and value.dim() > 0 and tuple(value.shape) != tuple(param.shape):
                raise CheckpointError(f"{name}: state[{pid!r}][{key!r}] has shape {tuple(value.shape)}, its "
                                      f"parameter {tuple(param.shape)}")


def _validate_rng(rng) -> None:
    if not isinstance(rng, dict):
        raise CheckpointError("rng: the checkpoint's RNG state is not a dict")
    nc_state = rng.get("nn_core")
    if nc_state is not None and not (isinstance(nc_state, tuple) and len(nc_state) == 2 and all(
            type(v) is int and 0 <= v < 2 ** 64 for v in nc_state)):
        raise CheckpointError(f"rng: malformed nn_core RNG state {str(nc_state)[:60]}")
    try:  # apply to scratch generators: they raise on malformed states
        if "python" in rng:
            random.Random().setstate(rng["python"])
        if "numpy" in rng:
            np.random.RandomState().set_state(rng["numpy"])
    except (TypeError, ValueError, KeyError, IndexError, OverflowError) as e:
        raise CheckpointError(f"rng: malformed Python/numpy RNG state ({e})") from None


def _is_module(obj) -> bool:
    from .nn import Module
    return isinstance(obj, Module)


def _is_optimizer_state(saved) -> bool:
    return isinstance(saved, dict) and "param_groups" in saved and "state" in saved


# ---- restoring ---------------------------------------------------------------------------------
def load(path, *, strict: bool = True, restore_rng: bool = True, verify: bool = True, **objects) -> Checkpoint:
    """Restores the objects passed by keyword from a checkpoint written by ``save``; returns a Checkpoint.

        ckpt = nn_core.checkpoint.load(path, model=model, optimizer=opt, scheduler=sched, data_loader=loader)
        start = ckpt.step + 1

    Everything is validated before anything is written, so on CheckpointError the objects (and the RNGs)
    are as they were. ``strict`` requires a module's keys to match exactly. Objects stored in the file but
    not passed are only returned (``ckpt.objects``). ``restore_rng=False`` leaves the RNGs alone.
    """
    where = f"checkpoint '{os.fspath(path)}'"
    state = _load(path, verify=verify, mmap=False)
    if not (isinstance(state, dict) and state.get("kind") == _KIND and isinstance(state.get("objects"), dict)):
        raise CheckpointError(f"{where}: not an nn_core.checkpoint file (use nn_core.load for plain files)")
    saved_objects = state["objects"]
    plan = []  # (rank, name, obj, saved): rank orders the writes (least validated first)
    for name, obj in objects.items():
        if name not in saved_objects:
            raise CheckpointError(f"{where}: holds no state for '{name}' (it holds: {', '.join(saved_objects)})")
        if not hasattr(obj, "load_state_dict"):
            raise CheckpointError(f"{where}: '{name}' ({type(obj).__name__}) has no load_state_dict()")
        saved = saved_objects[name]
        try:
            if _is_module(obj):
                _validate_module(name, obj, saved, strict)
                rank = 2
            elif _is_optimizer_state(saved):
                _validate_optimizer(name, obj, saved)
                rank = 1
            else:
                rank = 0
        except CheckpointError as e:
            raise CheckpointError(f"{where}: {e}") from None
        plan.append((rank, name, obj, saved))
    rng = state.get("rng") or {}
    if restore_rng:
        try:
            _validate_rng(rng)
        except CheckpointError as e:
            raise CheckpointError(f"{where}: {e}") from None

    plan.sort(key=lambda p: p[0])
    done = []
    for rank, name, obj, saved in plan:
        backup = obj.state_dict() if rank < 2 else None
        try:
            if rank == 2:
                obj.load_state_dict(saved, strict=strict)
            else:
                obj.load_state_dict(saved)
        except Exception as e:
            for _, _, prev, prev_backup in reversed(done + [(name, None, obj, backup)]):
                if prev_backup is not None:
                    try:
                        prev.load_state_dict(prev_backup)
                    except Exception:  # best effort: the original error is what matters
                        pass
            raise CheckpointError(f"{where}: '{name}'.load_state_dict failed: {e}") from e
        done.append((name, None, obj, backup))
    if restore_rng:
        if "nn_core" in rng:
            _C.set_rng_state(*rng["nn_core"])
        if "python" in rng:
            random.setstate(rng["python"])
        if "numpy" in rng:
            np.random.set_state(rng["numpy"])
    return Checkpoint(os.fspath(path), state)


# ---- manager -------------------------------------------------------------------------------------
class CheckpointManager:
    """Step-numbered checkpoints in one directory: ``<prefix>-<step:012d>.safetensors``.

        mgr = CheckpointManager("run/ckpts", keep=3)
        ckpt = mgr.restore(model=model, optimizer=opt)     # newest valid one, or None
        start = 0 if ckpt is None else ckpt.step + 1
        for step in range(start, steps):
            ...
            if step % 100 == 0:
                mgr.save(step, model=model, optimizer=opt)

    ``save`` writes atomically (see nn_core.serialization.write_tensors), then deletes all but the newest
    ``keep`` checkpoints (never the one just written). Temporary files (".<name>.<pid>.<random>.tmp") never
    match the checkpoint pattern; stale ones left by a killed process are removed when the manager is
    created (only when their process id is no longer running). ``latest`` skips checkpoints that fail
    verification, with a CheckpointWarning. One process writes to a directory at a time.
    """

    def __init__(self, directory, keep: Optional[int] = 3, prefix: str = "ckpt"):
        if keep is not None and keep < 1:
            raise ValueError(f"CheckpointManager: keep must be >= 1 or None, got {keep}")
        if not re.fullmatch(r"[A-Za-z0-9_\-]+", prefix):
            raise ValueError(f"CheckpointManager: prefix must be letters, digits, '_' or '-', got {prefix!r}")
        self.directory = os.fspath(directory)
        self.keep = keep
        self.prefix = prefix
        self._pattern = re.compile(rf"{re.escape(prefix)}-(\d{{12}})\.safetensors")
        self._temp_pattern = re.compile(rf"\.{re.escape(prefix)}-\d{{12}}\.safetensors\.(\d+)\..*\.tmp")
        os.makedirs(self.directory, exist_ok=True)
        self._remove_stale_temp_files()

    def path(self, step: int) -> str:
        return os.path.join(self.directory, f"{self.prefix}-{int(step):012d}.safetensors")

    def steps(self) -> List[int]:
        """Steps of the checkpoint files present (valid or not), ascending."""
        out = []
        for entry in os.listdir(self.directory):
            m = self._pattern.fullmatch(entry)
            if m:
                out.append(int(m.group(1)))
        return sorted(out)

    def save(self, step: int, **kwargs) -> str:
        """``checkpoint.save`` to this step's file (``step=`` filled in), then prunes; returns the path."""
        if not (isinstance(step, int) and 0 <= step < 10 ** 12):
            raise ValueError(f"CheckpointManager.save: step must be an int in [0, 1e12), got {step!r}")
        path = self.path(step)
        save(path, step=step, **kwargs)
        self._prune(keep_step=step)
        return path

    def latest(self) -> Optional[int]:
        """The newest step whose file verifies (structure and checksum), or None."""
        for step in reversed(self.steps()):
            try:
                _verify(self.path(step))
                return step
            except (CheckpointError, OSError) as e:
                warnings.warn(f"CheckpointManager: skipping step {step}: {e}", CheckpointWarning, stacklevel=2)
        return None

    def restore(self, step: Optional[int] = None, **kwargs) -> Optional[Checkpoint]:
        """Loads ``step`` (default: ``latest()``) into the keyword objects; None when there is none."""
        if step is None:
            step = self.latest()
            if step is None:
                return None
        return load(self.path(step), **kwargs)

    def _prune(self, keep_step: int) -> None:
        if self.keep is None:
            return
        steps = self.steps()
        for step in steps[:-self.keep]:
            if step != keep_step:
                try:
                    os.unlink(self.path(step))
                except FileNotFoundError:
                    pass

    def _remove_stale_temp_files(self) -> None:
        for entry in os.listdir(self.directory):
            m = self._temp_pattern.fullmatch(entry)
            if not m or _pid_alive(int(m.group(1))):
                continue
            try:
                os.unlink(os.path.join(self.directory, entry))
            except OSError:
                pass


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    return True
