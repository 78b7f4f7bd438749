"""The end-of-session count of the tests that compare with the original code: without ../shared/parity they
skip, and the summary must say so loudly instead of a few quiet 's' among the dots."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from conftest import ROOT, parity_summary


def test_summary_counts_ran_failed_and_skipped(tmp_path):
    present = tmp_path / "parity"
    present.mkdir()
    outcomes = {"a": ("passed", ""), "b": ("failed", ""), "c": ("skipped", "float64 not supported here"),
                "d": ("skipped", "float64 not supported here")}
    assert parity_summary(outcomes, present) == [
        "parity with the original code: 2 test(s) ran (1 passed, 1 failed), 2 skipped",
        "  skipped (2): float64 not supported here"]
    assert parity_summary({}, present) == []  # a session without parity tests prints nothing


def test_summary_says_the_fixtures_are_missing_and_where_they_come_from(tmp_path):
    lines = parity_summary({"a": ("skipped", "not available")}, tmp_path / "parity")
    assert lines[0] == "parity with the original code: 0 test(s) ran (0 passed, 0 failed), 1 skipped"
    assert f"NOT COMPARED: the fixtures were not found at {tmp_path / 'parity'}" in lines[1]
    assert "the original HSG code's recorded inputs and outputs (../shared/parity" in lines[1]


def test_a_session_without_the_fixtures_ends_with_the_count():
    """A real pytest session (two parity tests of tests/test_optim.py) with HSG_SHARED pointing nowhere."""
    env = {**os.environ, "HSG_SHARED": "/nonexistent/shared"}
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           str(Path(ROOT) / "tests" / "test_optim.py")], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "parity with the original code: 0 test(s) ran (0 passed, 0 failed), 2 skipped" in done.stdout
    assert "NOT COMPARED: the fixtures were not found at /nonexistent/shared/parity" in done.stdout
