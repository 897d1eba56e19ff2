"""``nn_core.bench``: the benchmark suite as a regression tracker (``python -m nn_core.bench``).

``run`` times nn_core's kernels, layers and a training step beside numpy and torch (when
installed) and writes a results file; ``compare`` says what changed between two files and
whether it is a regression, by a rule that knows the noise of the rounds; ``report``
charts a series of files. See ``python -m nn_core.bench --help``.
"""
from .cases import CASES
from .compare import compare
from .run import load, run, save

__all__ = ["CASES", "compare", "load", "run", "save"]
