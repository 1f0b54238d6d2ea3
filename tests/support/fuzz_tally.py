"""The tally of the API cases schemathesis generated in this session.

Filled by tests/fuzz/test_api_fuzz.py's fuzz test (one count per case that passed every check),
checked by its last test, and printed in the terminal summary by tests/fuzz/conftest.py.
"""

from __future__ import annotations

from collections import Counter

# Cases per operation ("GET /health") and per status code answered.
CASES: Counter[str] = Counter()
STATUSES: Counter[int] = Counter()
