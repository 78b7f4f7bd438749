"""Every command the documentation shows names only flags its program has.

A reader copies commands from README.md and docs/usage.md; a renamed or removed flag there fails at the
first run. This test finds each program invocation in the fenced code blocks, the indented code blocks and
the inline code spans (``python pyenv/X.py ...``, ``hsg-xxx ...``, ``python -m hsg.cli.X``,
``benchmarks/....py``), collects the ``--flags`` that follow it on its (continued) line, and checks each
against the program's own argparse parser. The parser is taken from the program itself, without running
it: ``ArgumentParser.parse_known_args`` is intercepted when its ``main()`` is called, so no program needs a
special hook and none can be skipped by mistake.
"""

from __future__ import annotations

import argparse
import ast
import importlib
import importlib.util
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from unittest import mock

import pytest

ROOT = Path(__file__).resolve().parents[1]
# The pages whose commands must run as written (issue 33): the front page and the step-by-step guide.
CHECKED_PAGES = ("README.md", "docs/usage.md")
# Every other page is checked too (its commands are as copyable).
OTHER_PAGES = tuple(sorted(str(p.relative_to(ROOT)) for p in (ROOT / "docs").glob("*.md")
                           if str(p.relative_to(ROOT)) not in CHECKED_PAGES))

PROGRAM = re.compile(r"(?<![\w./-])(?:(?:\./)?(pyenv/\w+\.py|benchmarks/(?:small_scale/)?\w+\.py)"
                     r"|(hsg-[a-z][a-z-]*[a-z])(?![\w.-])|-m\s+(hsg\.cli\.\w+))")
FLAG = re.compile(r"(?<![\w.=/-])--[A-Za-z][\w-]*")
# Where a command ends inside one line: a pipe, a list operator, a comment.
COMMAND_END = re.compile(r"\s(?:\|\|?|&&|;|#)\s|\s#")


@dataclass(frozen=True)
class Command:
    """One program invocation shown in a page: the program as written, its flags, where it is."""
    program: str
    flags: tuple[str, ...]
    where: str


def _code_texts(markdown: str) -> list[tuple[int, str]]:
    """(line number, text) of every fenced block, indented block and inline code span of a page; continued
    lines (ending in a backslash) are joined so that a command's flags stay with it."""
    texts: list[tuple[int, str]] = []
    lines = markdown.splitlines()
    i = 0
    previous_blank = True
    while i < len(lines):
        line = lines[i]
        if line.lstrip().startswith("```"):
            start, block = i + 1, []
            i += 1
            while i < len(lines) and not lines[i].lstrip().startswith("```"):
                block.append(lines[i])
                i += 1
            texts += _logical_lines(start + 1, block)
            i += 1
            previous_blank = False
            continue
        if previous_blank and line.startswith("    ") and line.strip():  # an indented code block
            start, block = i, []
            while i < len(lines) and (lines[i].startswith("    ") or not lines[i].strip()):
                block.append(lines[i])
                i += 1
            texts += _logical_lines(start + 1, block)
            previous_blank = False
            continue
        spans = [span.group(2) for span in re.finditer(r"(`+)(.+?)\1", line)]
        texts += [(i + 1, span) for span in spans]
        # A table row or sentence that names one program and its flags in separate spans
        # (`pyenv/eval.py` (`hsg-eval`): `--pred_dir --gt_dir` ...): one more text, the program then those flags.
        named = [_program(m) for span in spans for m in PROGRAM.finditer(span)]
        flag_spans = [span for span in spans if span.startswith("--")]
        if len({_identity(name) for name in named}) == 1 and flag_spans:
            texts.append((i + 1, " ".join([named[0], *flag_spans])))
        previous_blank = not line.strip()
        i += 1
    return texts


def _program(match: re.Match) -> str:
    """The program a match of PROGRAM names: pyenv/X.py, benchmarks/....py, hsg-x or hsg.cli.X."""
    return next(group for group in match.groups() if group)


def _identity(program: str) -> str:
    """The program a name stands for: the hsg.cli module of pyenv/X.py and of its console command hsg-x
    (the name itself for a benchmark script, or for a name that is no program)."""
    if program.startswith("pyenv/"):
        path = ROOT / program
        found = re.search(r"from (hsg\.cli\.\w+) import main", path.read_text()) if path.is_file() else None
        return found.group(1) if found else program
    return _console_commands().get(program, program) if program.startswith("hsg-") else program


def _logical_lines(first_line: int, block: list[str]) -> list[tuple[int, str]]:
    out: list[tuple[int, str]] = []
    current, start = "", first_line
    for offset, line in enumerate(block):
        if not current:
            start = first_line + offset
        if line.rstrip().endswith("\\"):
            current += line.rstrip()[:-1] + " "
            continue
        out.append((start, current + line))
        current = ""
    if current:
        out.append((start, current))
    return out


def commands_in(markdown: str, page: str = "<text>") -> list[Command]:
    """Every program invocation of a markdown text with the flags that follow it (up to the next program,
    or the end of its shell command)."""
    commands = []
    for line_number, text in _code_texts(markdown):
        end = COMMAND_END.search(text)
        text = text[:end.start()] if end else text
        found = list(PROGRAM.finditer(text))
        for k, match in enumerate(found):
            stop = found[k + 1].start() if k + 1 < len(found) else len(text)
            commands.append(Command(_program(match), tuple(FLAG.findall(text[match.end():stop])),
                                    f"{page}:{line_number}"))
    return commands


def _console_commands() -> dict[str, str]:
    """hsg-xxx -> hsg.cli module, read from setup.py's COMMANDS (without running setup())."""
    tree = ast.parse((ROOT / "setup.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "COMMANDS" for t in node.targets):
            return {name: f"hsg.cli.{module}" for name, module in ast.literal_eval(node.value).items()}
    raise AssertionError("setup.py: no COMMANDS dict of console commands")


class _Parser(Exception):
    def __init__(self, parser: argparse.ArgumentParser) -> None:
        self.parser = parser


def _intercept(self: argparse.ArgumentParser, args=None, namespace=None):
    raise _Parser(self)


_PARSERS: dict[str, argparse.ArgumentParser | None] = {}


def parser_of(program: str) -> argparse.ArgumentParser | None:
    """The argparse parser a documented program builds (None: no such program in this repository)."""
    if program in _PARSERS:
        return _PARSERS[program]
    main = None
    identity = _identity(program)
    if identity.startswith("hsg.cli."):
        main = importlib.import_module(identity).main if importlib.util.find_spec(identity) else None
    elif identity.startswith("benchmarks/") and (ROOT / program).is_file():  # a benchmark script: loaded from its file, its __main__ block not run
        spec = importlib.util.spec_from_file_location(f"_docs_{Path(program).stem}", ROOT / program)
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # dataclasses look their module up while it executes
        spec.loader.exec_module(module)
        main = getattr(module, "main", None)
    parser = None
    if main is not None:
        with mock.patch.object(argparse.ArgumentParser, "parse_known_args", _intercept):
            try:
                main()
            except _Parser as caught:
                parser = caught.parser
        assert parser is not None, f"{program}: main() returned without parsing its arguments"
    _PARSERS[program] = parser
    return parser


def wrong_flags(commands: list[Command]) -> list[str]:
    """One line per flag that its program does not have, and per program that does not exist."""
    problems = []
    for command in commands:
        parser = parser_of(command.program)
        if parser is None:
            problems.append(f"{command.where}: {command.program} is not a program of this repository")
            continue
        for flag in command.flags:
            if flag not in parser._option_string_actions:  # exact names only: no abbreviations in the docs
                problems.append(f"{command.where}: {command.program} has no flag {flag}")
    return problems


# --- the checker itself catches what it must (so the page tests cannot pass by finding nothing) ---

def test_a_made_up_flag_is_reported():
    text = ("Run it:\n\n```bash\npython pyenv/eval.py --pred_dir out --gt_dir gt \\\n"
            "    --no_such_flag 1   # a comment with --not_a_flag\n```\n\n"
            "and `hsg-readout --test_list t --save_dir s --bogus_option` inline, or "
            "`python -m hsg.cli.train --snapshot_dir s --also_bogus`.\n\n"
            "    python pyenv/oversegment.py --image_dir x --max_region 48\n")
    commands = commands_in(text, "made_up.md")
    assert [c.program for c in commands] == ["pyenv/eval.py", "hsg-readout", "hsg.cli.train", "pyenv/oversegment.py"]
    assert commands[0].flags == ("--pred_dir", "--gt_dir", "--no_such_flag")  # the continued line, not the comment
    assert wrong_flags(commands) == [
        "made_up.md:4: pyenv/eval.py has no flag --no_such_flag",
        "made_up.md:8: hsg-readout has no flag --bogus_option",
        "made_up.md:8: hsg.cli.train has no flag --also_bogus",
        "made_up.md:10: pyenv/oversegment.py has no flag --max_region",  # an abbreviation is not the flag's name
    ]


def test_a_table_row_with_the_program_and_its_flags_in_separate_spans_is_checked():
    row = "| `benchmark_by_mIoU.py` | `pyenv/eval.py` (`hsg-eval`): `--pred_dir --gt_dir` as there; `--made_up` |"
    assert wrong_flags(commands_in(row, "t.md")) == ["t.md:1: pyenv/eval.py has no flag --made_up"]
    # two different programs on one line: their separate flag spans are not attributed to either
    assert commands_in("`pyenv/eval.py` and `pyenv/train.py` take `--made_up`", "t.md")[-1].flags == ()


def test_an_unknown_program_is_reported():
    assert wrong_flags(commands_in("`python pyenv/no_such_program.py --x 1` and `hsg-nothing`", "p.md")) == [
        "p.md:1: pyenv/no_such_program.py is not a program of this repository",
        "p.md:1: hsg-nothing is not a program of this repository"]


def test_flags_of_other_tools_and_following_commands_are_not_mixed_in():
    commands = commands_in("```\ntorchrun --nproc_per_node 8 pyenv/train.py --snapshot_dir s && "
                           "pip install --no-deps x\npython pyenv/eval.py --pred_dir p | tee --append log\n```\n")
    assert [(c.program, c.flags) for c in commands] == [("pyenv/train.py", ("--snapshot_dir",)),
                                                         ("pyenv/eval.py", ("--pred_dir",))]


def test_every_program_of_the_repository_gives_its_parser():
    programs = [f"pyenv/{p.name}" for p in sorted((ROOT / "pyenv").glob("*.py"))] + sorted(_console_commands())
    for program in programs:
        parser = parser_of(program)
        assert parser is not None and "--help" in parser._option_string_actions, program


# --- the pages ---

@pytest.mark.parametrize("page", CHECKED_PAGES)
def test_commands_of_the_front_page_and_the_guide_name_real_flags(page):
    path = ROOT / page
    commands = commands_in(path.read_text(), page)
    if page == "docs/usage.md":  # the guide shows every step's command: finding none means the parsing broke
        assert sum(len(c.flags) for c in commands) >= 30, [c.where for c in commands]
    assert not wrong_flags(commands), "\n".join(wrong_flags(commands))


@pytest.mark.parametrize("page", OTHER_PAGES)
def test_commands_of_the_other_pages_name_real_flags(page):
    problems = wrong_flags(commands_in((ROOT / page).read_text(), page))
    assert not problems, "\n".join(problems)


# --- the pages the code points users to ---

def _anchor(heading: str) -> str:
    """GitHub's anchor of a markdown heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_every_docs_link_in_the_code_and_launchers_exists():
    """Error messages and launcher headers name docs/<page>.md#<section>; a renamed section must fail here,
    not leave a user at a dead link."""
    sources = [*ROOT.glob("bashscripts/**/*.sh"), *ROOT.glob("hsg/**/*.py"), *ROOT.glob("benchmarks/**/*.py"),
               *ROOT.glob("configs/*.yaml"), ROOT / "setup.py", ROOT / "README.md"]
    links = {(m.group(1), m.group(2)) for path in sources
             for m in re.finditer(r"(docs/[\w.-]+\.md)(?:#([\w-]+))?", path.read_text(errors="replace"))}
    assert ("docs/data.md", "datasets-where-to-get-them") in links  # the launchers' missing-data line
    for page, anchor in sorted(links, key=str):
        assert (ROOT / page).is_file(), f"{page} is named but does not exist"
        if anchor:
            headings = [line.lstrip("#") for line in (ROOT / page).read_text().splitlines() if line.startswith("#")]
            assert anchor in {_anchor(h) for h in headings}, f"{page}#{anchor}: no such section"
