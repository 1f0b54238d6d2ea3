"""``python -m docgen [--check]``: write the generated docs, or report the stale ones."""

from __future__ import annotations

import sys

from docgen.generate import main

if __name__ == "__main__":
    sys.exit(main())
