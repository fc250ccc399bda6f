"""The benchmarks live in ``bench/``, beside the packages rather than in them: their
tests import them from the checkout, as the scripts themselves do."""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
