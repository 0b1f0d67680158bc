"""``python -m hf_endpoint.cli ...``: the same as the ``hf-endpoint`` command."""

from __future__ import annotations

import sys

from . import main

if __name__ == "__main__":
    sys.exit(main())
