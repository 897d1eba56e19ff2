"""Entry point of ``python -m nn_core.runtime`` (see cli.py)."""
import sys

from .cli import main

sys.exit(main())
