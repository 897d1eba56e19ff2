"""Child Python processes for tests: they import the same nn_core as the test process,
whatever directory the suite was started from.

``python -c`` and ``python -m`` put their working directory first on ``sys.path``; run
from the repository root, a child would import the source tree's ``nn_core/`` (which has
no compiled ``_C`` in a fresh clone) instead of the installed package. So children start
in a fresh temporary directory, with the directory holding the imported ``nn_core``
first on ``PYTHONPATH`` (and ``PYTHONSAFEPATH=1`` where Python honours it).
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile

import nn_core


def package_parent() -> str:
    return os.path.dirname(os.path.dirname(os.path.abspath(nn_core.__file__)))


def child_env(**extra: str) -> dict:
    """os.environ with the imported nn_core first on PYTHONPATH, plus ``extra``."""
    path = os.pathsep.join(filter(None, [package_parent(), os.environ.get("PYTHONPATH")]))
    return dict(os.environ, PYTHONPATH=path, PYTHONSAFEPATH="1", **extra)


def run_python(args, *, env=None, cwd=None, **kwargs) -> subprocess.CompletedProcess:
    """``subprocess.run([sys.executable, *args])`` with ``child_env()`` (or ``env``) in a
    temporary working directory (or ``cwd``); text output captured."""
    kwargs.setdefault("capture_output", True)
    kwargs.setdefault("text", True)
    if cwd is not None:
        return subprocess.run([sys.executable, *args], env=env or child_env(), cwd=cwd, **kwargs)
    with tempfile.TemporaryDirectory(prefix="nn_core_child_") as tmp:
        return subprocess.run([sys.executable, *args], env=env or child_env(), cwd=tmp, **kwargs)
