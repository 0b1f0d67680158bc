"""``python -m hf_endpoint.server [serve options]``: the same as ``hf-endpoint serve``."""

from __future__ import annotations

import argparse
import sys

from ._command import add_arguments, run

if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m hf_endpoint.server", description=__doc__.splitlines()[0])
    add_arguments(parser)
    sys.exit(run(parser.parse_args()))
