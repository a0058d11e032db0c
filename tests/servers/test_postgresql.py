# SPDX-License-Identifier: MIT
"""Placeholder: the postgresql tests are being written (issue 6)."""
import sys

sys.exit("tests/servers/test_postgresql.py is not written yet")
