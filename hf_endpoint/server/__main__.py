"""``python -m hf_endpoint.server [serve options]``: the same as ``hf-endpoint serve``."""

from __future__ import annotations

import sys

from hf_endpoint.cli import main

if __name__ == "__main__":
    sys.exit(main(["serve", *sys.argv[1:]]))
