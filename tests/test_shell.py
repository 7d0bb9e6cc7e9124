"""`kbcli shell`: driven through a real pseudo-terminal like a person, through stdin like a
script, and through `ShellSession` directly where that is clearer."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pexpect
import pytest

from conftest import ROOT, SAMPLE_DOCS, Cli, word_file
from kbcli.kb import KnowledgeBase
from kbcli.settings import resolve
from kbcli.shell import Answer, Context, Help, Note, Open, Problem, Quit, ShellSession, completions

DESCALE = "How do I descale the espresso machine?"
ESPRESSO = "caldera_aurora_espresso_manual.pdf"
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


# -- a person at a terminal -------------------------------------------------------------------------
class Terminal:
    """`python -m kbcli shell NAME` in a pty (prompt_toolkit needs a real one), 200x50."""

    def __init__(self, name: str, *args: str) -> None:
        env = dict(os.environ, TERM="xterm-256color", PROMPT_TOOLKIT_NO_CPR="1")
        self.prompt = re.compile(re.escape(name) + r"( \[[^\]]*\])?>")  # the filter shows in the prompt
        self.child = pexpect.spawn(
            sys.executable, ["-m", "kbcli", "shell", name, *args], cwd=str(ROOT), env=env,
            dimensions=(50, 200), encoding="utf-8", codec_errors="replace", timeout=60,
        )
        self.wait_prompt()

    def wait_prompt(self) -> str:
        """Everything printed up to the next prompt, without colours and cursor moves."""
        self.child.expect(self.prompt)
        return ANSI.sub("", self.child.before)

    def say(self, line: str, *expected: str) -> str:
        """Type a line, wait for each expected text in order, then for the prompt; the output."""
        self.child.sendline(line)
        seen = ""
        for text in expected:
            self.child.expect_exact(text)
            seen += ANSI.sub("", self.child.before) + text
        return seen + self.wait_prompt()

    def finish(self) -> int:
        self.child.expect(pexpect.EOF)
        self.child.close()
        return self.child.exitstatus


def test_a_session_at_the_terminal(sample_index: str) -> None:
    term = Terminal(sample_index)
    out = term.say(DESCALE, ESPRESSO, "p. 4", "#2 ")
    assert "How to descale the machine" in out

    term.say(":k 1", "k = 1")
    out = term.say("What does error code E03 mean?", "#1 ", ESPRESSO, "p. 5")
    assert "#2 " not in out  # one hit only

    out = term.say(":more 1", "with the passages around it", "E03")
    assert "No water flow detected" in out

    term.say(":k 3", "k = 3")
    out = term.say(":filter *.docx", "filter = *.docx")
    out = term.say(DESCALE, "#3 ")
    assert ".pdf" not in out and ".docx" in out
    term.say(":filter off", "filter = off")

    term.say(":json on", "json = on")
    term.child.sendline("notice period for terminating the contract")
    term.child.expect(r"\{\"index\".*\}\r\n")
    answer = json.loads(ANSI.sub("", term.child.after))
    assert len(answer["hits"]) == 3 and answer["query"] == "notice period for terminating the contract"
    assert answer["hits"][0]["file"].endswith("kestrel_managed_it_services_agreement.docx")
    assert answer["seconds"] < 5
    term.wait_prompt()

    term.child.send(":he\t")  # Tab completes the command
    term.child.expect_exact(":help")
    term.say("", "Type a question, or a command:", ":filter GLOB|off", ":quit")

    term.child.send("a half-typed question")
    term.child.sendintr()  # Ctrl-C abandons the line, the shell stays
    term.wait_prompt()
    term.say(":bogus", "unknown command :bogus")

    term.child.sendline(":quit")
    assert term.finish() == 0


def test_ctrl_d_leaves_and_history_is_kept_per_index(sample_index_home: Path, sample_index: str) -> None:
    term = Terminal(sample_index)
    term.say(DESCALE, ESPRESSO)
    term.child.sendeof()
    assert term.finish() == 0
    history = sample_index_home / "history" / sample_index
    assert DESCALE in history.read_text()
    assert not (sample_index_home / "indexes" / sample_index / "history").exists()

    term = Terminal(sample_index)
    term.child.send("\x1b[A")  # arrow up: the last question of the previous session
    term.child.expect_exact(DESCALE)
    term.child.sendline("")
    term.child.expect_exact(ESPRESSO)
    term.wait_prompt()
    term.child.sendeof()
    assert term.finish() == 0


def test_ctrl_c_during_an_answer_returns_to_the_prompt(sample_index: str) -> None:
    term = Terminal(sample_index, "-k", "75")  # every chunk: long enough to interrupt
    outcomes = []
    for _ in range(3):
        term.child.sendline(DESCALE)
        term.child.expect_exact("#1 ")
        term.child.sendintr()
        outcomes.append(term.child.expect_exact(["interrupted", "#75 "]))
        term.wait_prompt()
    assert 0 in outcomes  # at least one answer was cut short, and the shell stayed
    term.say(":k 1", "k = 1")
    term.say("What does error code E03 mean?", ESPRESSO, "p. 5")
    term.say(":more 1", "with the passages around it")
    term.child.sendline(":q")
    assert term.finish() == 0


def test_a_refresh_committed_by_another_process_is_used_by_the_next_question(cli: Cli, tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    shutil.copy(SAMPLE_DOCS / "caldera_aurora_espresso_manual.pdf", docs)
    cli("index", docs, "--name", "live", "--json")
    question = "How much does the zebra migration permit cost?"

    term = Terminal("live", "-k", "2")
    out = term.say(question, "#1 ")
    assert "zebra_permits.docx" not in out

    word_file(docs / "zebra_permits.docx", "A zebra migration permit costs 42 florins and is valid for one season.")
    refresh = subprocess.run(
        [sys.executable, "-m", "kbcli", "refresh", "live", "--json"], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert refresh.returncode == 0, refresh.stderr
    assert json.loads(refresh.stdout)["added"] == 1

    out = term.say(question, "#1 ", "zebra_permits.docx", "42 florins")
    term.child.sendline(":info")
    term.child.expect_exact("generation")
    term.child.expect_exact("2")
    term.wait_prompt()
    term.child.sendeof()
    assert term.finish() == 0


# -- a script on stdin --------------------------------------------------------------------------------
def _shell(*args: str, input: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "kbcli", "shell", *args], cwd=ROOT, input=input, capture_output=True, text=True, timeout=120
    )


def test_stdin_plain_one_question_a_line_no_prompt(sample_index: str) -> None:
    run = _shell(sample_index, "-k", "2", input=f"{DESCALE}\n\nWhat was Northwind's revenue in 2023?\n")
    assert run.returncode == 0, run.stderr
    assert f"» {DESCALE}" in run.stdout and "» What was Northwind's revenue in 2023?" in run.stdout
    assert ESPRESSO in run.stdout and "northwind_annual_report_2023.pdf" in run.stdout
    assert f"{sample_index}>" not in run.stdout + run.stderr and "kbcli shell" not in run.stderr
    assert run.stdout.count("#1 ") == 2 and run.stdout.count("#3 ") == 0


def test_stdin_json_one_object_a_line_and_commands_between(sample_index: str) -> None:
    questions = [DESCALE, "What does error code E03 mean?", "annual leave carry over"]
    script = f"{questions[0]}\n:k 2\n{questions[1]}\n:filter *.docx\n{questions[2]}\n:more 1\n:open 1\n"
    run = _shell(sample_index, "--json", input=script)
    assert run.returncode == 0, run.stderr
    lines = [json.loads(line) for line in run.stdout.splitlines()]
    answers, more, opened = lines[:3], lines[3], lines[4]
    assert [a["query"] for a in answers] == questions
    assert [len(a["hits"]) for a in answers] == [5, 2, 2]
    assert all(h["file"].endswith(".docx") for h in answers[2]["hits"])
    assert all(isinstance(a["seconds"], float) for a in answers)
    assert more["text"] == answers[2]["hits"][0]["text"] and "before" in more and "after" in more
    assert opened["open"] == answers[2]["hits"][0]["file"] and opened["page"] is None
    assert "k = 2" in run.stderr and "filter = *.docx" in run.stderr  # notes stay off stdout


def test_stdin_bad_lines_are_reported_and_the_rest_answered(sample_index: str) -> None:
    run = _shell(sample_index, "--json", input=f":k zero\n:more 9\n{DESCALE}\n")
    assert run.returncode == 1
    assert "expected a number" in run.stderr and "ask a question first" in run.stderr
    assert len(run.stdout.splitlines()) == 1 and json.loads(run.stdout)["hits"]


def test_unknown_index_is_one_line_error() -> None:
    run = _shell("nope", input="")
    assert run.returncode == 1 and run.stderr.strip().startswith("kbcli: error: no index named 'nope'")


# -- the session itself ---------------------------------------------------------------------------------
@pytest.fixture
def session(sample_index: str):
    shell = ShellSession(KnowledgeBase(resolve()), sample_index, k=3)
    yield shell
    shell.close()


def _hits(out) -> list:
    assert isinstance(out, Answer), out
    return out.result.hits


def test_filter_still_returns_k_hits(session: ShellSession) -> None:
    assert {Path(h.file).name for h in _hits(session.handle(DESCALE))} == {ESPRESSO}
    session.handle(":filter *.docx")
    hits = _hits(session.handle(DESCALE))  # the espresso manual fills the unfiltered top hits
    assert len(hits) == 3 and all(h.file.endswith(".docx") for h in hits)
    assert [h.rank for h in hits] == [1, 2, 3]
    session.handle(":filter northwind*")
    assert {Path(h.file).name for h in _hits(session.handle(DESCALE))} == {"northwind_annual_report_2023.pdf"}
    session.handle(":filter nothing-matches-this")
    assert _hits(session.handle(DESCALE)) == []


def test_more_shows_the_neighbouring_chunks_once(session: ShellSession) -> None:
    hits = _hits(session.handle(DESCALE))
    middle = next(h for h in hits if h.seqs[0] > 0)
    out = session.handle(f":more {middle.rank}")
    assert isinstance(out, Context) and out.hit is middle
    assert out.before and out.after
    # chunks overlap by 32 tokens: the overlap is shown once, not twice
    assert not out.before.endswith(middle.text[:40]) and not out.after.startswith(middle.text[-40:])
    wider = session.handle(f":more {middle.rank} 3")
    assert len(wider.before) > len(out.before) or middle.seqs[0] < 3


def test_open_gives_path_and_page(session: ShellSession) -> None:
    hit = _hits(session.handle(DESCALE))[0]
    out = session.handle(":open 1")
    assert isinstance(out, Open) and out.target == f"{hit.file}#page={hit.page}" and hit.page == 4


def test_commands_check_their_arguments(session: ShellSession) -> None:
    for line, needle in [
        (":more 1", "ask a question first"),
        (":k 0", "out of range"),
        (":k many", "expected a number"),
        (":json maybe", "use :json on|off"),
        (":m 1", "ambiguous"),
        (":nope", "unknown command"),
        (":index nope", "no index named 'nope'"),
    ]:
        out = session.handle(line)
        assert isinstance(out, Problem) and needle in out.text, (line, out)
    assert session.handle("   ") is None
    assert isinstance(session.handle(":q"), Quit) and isinstance(session.handle(":help"), Help)
    assert isinstance(session.handle(":inf"), type(session.handle(":info")))
    assert session.handle(":k 7") == Note("k = 7") and session.k == 7
    assert session.handle(":json") == Note("json = on") and session.as_json


def test_mode_switches_the_search_and_answer_needs_a_configured_llm(session: ShellSession, monkeypatch) -> None:
    assert session.settings()["mode"] == "hybrid"
    assert session.handle(":mode keyword") == Note("mode = keyword")
    assert _hits(session.handle("E03"))[0].file.endswith(ESPRESSO)
    out = session.handle(":mode fuzzy")
    assert isinstance(out, Problem) and "hybrid|vector|keyword" in out.text
    for name in [n for n in os.environ if n.startswith("KBCLI_LLM_")]:
        monkeypatch.delenv(name)
    session.kb = KnowledgeBase(resolve())  # the settings as they are now, without an LLM
    # As `query --answer`: a hint, and the passages only (no answer, nothing cited).
    out = session.handle(":answer on")
    assert isinstance(out, Note) and "no LLM configured" in out.text and session.answer
    answered = session.handle("E03")
    assert answered.result.hits and answered.text is None and answered.answered.cited == []


def test_switching_index_keeps_the_model_loaded(cli: Cli) -> None:
    cli("index", SAMPLE_DOCS / "kestrel_managed_it_services_agreement.docx", "--name", "one", "--json")
    cli("index", SAMPLE_DOCS / "brightwater_employee_handbook_2024.docx", "--name", "other", "--json")
    session = ShellSession(KnowledgeBase(resolve()), "one")
    try:
        embedder = session.index.embedder
        assert session.handle(":index other") == Note("now searching 'other'")
        assert session.index.embedder is embedder and session.name == "other"
        assert {Path(h.file).name for h in _hits(session.handle("sick leave"))} == {"brightwater_employee_handbook_2024.docx"}
        cli("remove", "other", "--yes")
        gone = session.handle("sick leave")
        assert isinstance(gone, Problem) and "was removed" in gone.text
        # built again under the same name: a new database file, reopened without a restart
        cli("index", SAMPLE_DOCS / "meridian_corporate_travel_policy.docx", "--name", "other", "--json")
        assert {Path(h.file).name for h in _hits(session.handle("hotel"))} == {"meridian_corporate_travel_policy.docx"}
        assert session.index.embedder is embedder
    finally:
        session.close()


def test_tab_completion() -> None:
    names = lambda: ["sample", "work"]  # noqa: E731
    assert [c[0] for c in completions(":f", names)] == [":filter"]
    assert [c[0] for c in completions(":", names)][:3] == [":k", ":mode", ":filter"]
    assert [c[0] for c in completions(":json o", names)] == ["on", "off"]
    assert completions(":index w", names) == [("work", -1, "")]
    assert completions(":mode h", names)[0][0] == "hybrid"
    assert completions("how do I", names) == [] and completions(":nope x", names) == []
