"""Shared test setup: one fixed, printed seed for hypothesis and NumPy, no example
database (runs are reproducible from the seed alone), no deadlines (timings vary)."""
import os
import zlib

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

import nn_core as nc

from samples import SEED


settings.register_profile(
    "nn_core",
    deadline=None,
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)
settings.load_profile("nn_core")


def pytest_report_header(config):
    return f"nn_core tests: seed {SEED} (hypothesis @seed and numpy; NN_CORE_TEST_SEED overrides)"


@pytest.fixture(params=nc._C._supported_isas())
def isa(request):
    """Forces one kernel ISA (generic, avx2, avx512: what the CPU supports) for the test,
    then restores the default. Tests of the ISA paths take it as their parameter."""
    nc._C._set_isa(request.param)
    try:
        yield request.param
    finally:
        nc._C._set_isa(None)


@pytest.fixture
def rng(request):
    """A NumPy generator seeded from SEED and the test id (printed, shown on failure)."""
    s = SEED ^ zlib.crc32(request.node.nodeid.encode())
    print(f"numpy seed: {s}")
    return np.random.default_rng(s)


# ---- isolated tests ---------------------------------------------------------------
# A test marked @pytest.mark.isolated runs in a child pytest process, so a crash of
# the native core (a segfault, an abort, a stack overflow) fails that test with the
# child's fault traceback instead of ending the whole run.
_CHILD_ENV = "NN_CORE_TEST_ISOLATED_CHILD"


def pytest_configure(config):
    config.addinivalue_line("markers", "isolated: run this test in a child process (crash-safe)")
    # hypothesis imports libcst to print a failing example as a patch; libcst uses a
    # deprecated mypy_extensions API. Only that third-party warning is let through.
    config.addinivalue_line("filterwarnings", "ignore:mypy_extensions.TypedDict is deprecated:DeprecationWarning")


def pytest_pyfunc_call(pyfuncitem):
    if pyfuncitem.get_closest_marker("isolated") is None or os.environ.get(_CHILD_ENV):
        return None
    # The child imports the same nn_core as this process, from a temporary directory
    # (tests/child_process.py says why), and runs the test by its absolute path.
    from child_process import child_env, run_python
    root = pyfuncitem.config.rootpath
    args = ["-X", "faulthandler", "-m", "pytest", "-q", "-p", "no:cacheprovider", "-x", "--rootdir", str(root),
            str(root / pyfuncitem.nodeid)]
    r = run_python(args, env=child_env(**{_CHILD_ENV: "1"}), timeout=900)
    if r.returncode != 0:
        how = f"killed by signal {-r.returncode}" if r.returncode < 0 else f"exit status {r.returncode}"
        pytest.fail(f"isolated child {how}:\n{r.stdout[-6000:]}\n{r.stderr[:3000]}", pytrace=False)
    return True
