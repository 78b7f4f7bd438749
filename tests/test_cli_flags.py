"""Flags as ``--help`` presents them: every default that means something is shown, one spelling of the
read-out flag (``--readouts``) with the earlier ``--readout`` still accepted, and the CamVid ignore label
stated where a user of eval.py looks."""

from __future__ import annotations

import argparse

import pytest

from hsg.cli.common import HelpFormatter
from test_docs_commands import parser_of

PROGRAMS = ["train", "prototype", "inference", "eval", "readout", "hierarchy", "oversegment", "make_lists",
            "convert_checkpoint", "demo"]


def _help(program: str) -> str:
    """The program's --help, with the line wrapping undone (a default may be wrapped mid-way)."""
    return " ".join(parser_of(f"hsg.cli.{program}").format_help().split())


@pytest.mark.parametrize("program, shown", [
    ("eval", ["--num_classes NUM_CLASSES number of classes: 21 VOC, 19 Cityscapes, 11 CamVid (default: 21)",
              "(default: 255)", "11 for CamVid (its void class: pass --ignore_index 11)", "(default: semantic)"]),
    ("readout", ["read-outs to compute and score (default: knn cluster)"]),
    ("inference", ["(default: knn)"]),
    ("oversegment", ["at most this many regions (default: 48)", "first UCM threshold (default: 0.25)"]),
    ("convert_checkpoint", ["(default: ours)"]),
])
def test_help_shows_the_defaults(program, shown):
    text = _help(program)
    for part in shown:
        assert part in text, f"{program} --help lacks {part!r}:\n{text}"


@pytest.mark.parametrize("program", PROGRAMS)
def test_help_shows_no_empty_or_doubled_default(program):
    text = _help(program)
    for empty in ("(default: None)", "(default: False)", "(default: )", "(default: [])"):
        assert empty not in text, f"{program}: {empty}"
    assert ") (default: the" not in text  # a help that states its default in words gets no second one


def test_a_default_with_a_percent_sign_is_printed_as_it_is():
    parser = argparse.ArgumentParser(formatter_class=HelpFormatter)
    parser.add_argument("--share", default="50%", help="a share")
    parser.add_argument("--sizes", type=int, nargs="+", default=[224, 448], help="crop sides")
    text = " ".join(parser.format_help().split())
    assert "a share (default: 50%)" in text and "crop sides (default: 224 448)" in text


@pytest.mark.parametrize("program, required", [
    ("inference", ["--save_dir", "out"]),
    ("readout", ["--test_list", "t.txt", "--save_dir", "out"]),
])
def test_readouts_is_the_spelling_and_readout_still_works(program, required):
    parser = parser_of(f"hsg.cli.{program}")
    assert parser.parse_args(required + ["--readouts", "nn1", "cluster"]).readouts == ["nn1", "cluster"]
    assert parser.parse_args(required + ["--readout", "cluster"]).readouts == ["cluster"]  # older scripts
    default = ["knn"] if program == "inference" else ["knn", "cluster"]
    assert parser.parse_args(required).readouts == default
    usage = parser.format_help()
    assert "--readouts" in usage and "--readout " not in usage and "--readout\n" not in usage  # one spelling shown


def test_readout_program_checks_the_alias_like_the_flag():
    """pyenv/readout.py's own checks (memory needed by knn) see the alias's value."""
    from hsg.cli.readout import parse_args

    args = parse_args(["--test_list", "t.txt", "--save_dir", "out", "--checkpoint", "untrained",
                       "--readout", "cluster"])
    assert args.readouts == ["cluster"]
    with pytest.raises(SystemExit):  # knn without --memory_list is refused, whichever spelling named it
        parse_args(["--test_list", "t.txt", "--save_dir", "out", "--checkpoint", "untrained", "--readout", "knn"])
