"""``python -m tests.benchmarks [--quick] [--json PATH] [--clients ids] [--no-imports] [--gc-freeze] [--instructions]``."""

from __future__ import annotations

import sys

from ._run import main

sys.exit(main())
