"""The terminal side of `kbcli shell`, called from the CLI only: the interactive loop
(prompt_toolkit: line editing, history kept per index, tab completion), the script loop (stdin
is not a terminal: one line at a time, no prompt), and the rendering of what each line produced."""

from __future__ import annotations

import shutil
import subprocess
import sys
from typing import TYPE_CHECKING, Any, Iterable

from rich.table import Table
from rich.text import Text

from kbcli.cli.output import Output as OutputEnv
from kbcli.cli.views import render_info
from kbcli.render import render_context, render_outcome
from kbcli.session import Around
from kbcli.shapes import answer_json, context_json, open_json, shell_info_json
from kbcli.shell import Answer, Context, Help, Info, Note, Open, Output, Problem, Quit, ShellSession, completions

if TYPE_CHECKING:
    from rich.console import Console


def render_output(out: Output, env: OutputEnv, as_json: bool, script: bool) -> None:
    """Show what a line produced. In script mode stdout carries answers only; notes go to stderr."""
    console, err = env.out, env.err
    if isinstance(out, Answer):
        _render_answer(out, env, as_json, script)
    elif isinstance(out, Context):
        if as_json:
            env.json(context_json(out.hit, Around(out.before, out.after)))
        else:
            render_context(console, out.hit, out.before, out.after, out.query)
    elif isinstance(out, Open):
        if as_json:
            env.json(open_json(out.hit, out.target))
        else:
            console.print(out.target, markup=False, highlight=False, soft_wrap=True)
    elif isinstance(out, Info):
        if as_json:
            env.json(shell_info_json(out.info, out.shell), pretty=not script)
        else:
            render_info(console, out.info)
            console.print(Text("shell: " + ", ".join(f"{k}={_show(v)}" for k, v in out.shell.items())))
    elif isinstance(out, Help):
        _render_help(err if script else console, out)
    elif isinstance(out, Note):
        (err if script else console).print(Text(out.text, style="dim" if not script else ""), soft_wrap=True)
    elif isinstance(out, Problem):
        err.print(Text(f"error: {out.text}", style="red"), soft_wrap=True)


def _render_answer(out: Answer, env: OutputEnv, as_json: bool, script: bool) -> None:
    """The same outcome as `kbcli query`: one renderer, one JSON shape."""
    if as_json:
        answered = out.answered
        env.json(answer_json(out.result, answered))
    else:
        answered = render_outcome(env.out, out.result, out.answering, show_query=script)
    if answered is not None and answered.failure is not None:
        env.err.print(Text(f"error: {answered.failure}", style="red"), soft_wrap=True)


def _render_help(console: "Console", out: Help) -> None:
    table = Table(show_header=False, box=None, padding=(0, 2, 0, 0))
    for command in out.commands:
        table.add_row(Text(f"{command.name} {command.args}".strip(), style="bold"), Text(command.help))
    console.print(Text("Type a question, or a command:"))
    console.print(table)
    console.print(Text("Ctrl-C abandons the line or a running search; Tab completes commands."))


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    return "off" if value is None else str(value)


def run_script(session: ShellSession, lines: Iterable[str], env: OutputEnv) -> int:
    """stdin is not a terminal: one question or command a line, no prompt. Exit 1 if any failed."""
    failed = 0
    for line in lines:
        out = session.handle(line)
        if isinstance(out, Quit):
            break
        if isinstance(out, Problem):
            failed += 1
        if out is not None:
            render_output(out, env, session.as_json, script=True)
    return 1 if failed else 0


def run_terminal(session: ShellSession, env: OutputEnv, debug: bool = False) -> int:
    """The interactive loop: Ctrl-C abandons the line or the running search, Ctrl-D leaves."""
    console, err = env.out, env.err
    stats = session.index.stats()
    err.print(
        Text(
            f"kbcli shell · index {session.name!r} · {stats.files_ok} files, {stats.chunks} chunks"
            " · :help for commands, Ctrl-D to leave",
            style="dim",
        )
    )
    prompt, prompt_for = None, None
    while True:
        if prompt is None or prompt_for != session.name:
            prompt, prompt_for = _prompt_session(session), session.name
        try:
            line = prompt.prompt(_prompt_text(session))
        except KeyboardInterrupt:
            continue
        except EOFError:
            return 0
        try:
            out = session.handle(line)
            if isinstance(out, Quit):
                return 0
            if out is not None:
                render_output(out, env, session.as_json, script=False)
            if isinstance(out, Open):
                _launch_viewer(out.hit.file, console, err)
        except KeyboardInterrupt:
            err.print(Text("interrupted", style="yellow"))
            session.reopen()
        except Exception as error:  # one bad question must not end the session
            if debug:
                raise
            err.print(Text(f"error: unexpected {type(error).__name__}: {error}", style="red"))


def _prompt_text(session: ShellSession) -> str:
    return f"{session.name} [{session.filter}]> " if session.filter else f"{session.name}> "


def _prompt_session(session: ShellSession):
    """A prompt with history kept per index under $KBCLI_HOME/history (not in the index folder)."""
    from prompt_toolkit import PromptSession
    from prompt_toolkit.completion import Completer, Completion
    from prompt_toolkit.history import FileHistory, InMemoryHistory

    class ShellCompleter(Completer):
        def get_completions(self, document, complete_event):  # type: ignore[no-untyped-def]
            for text, start, meta in completions(document.text_before_cursor, session.kb.names):
                yield Completion(text, start_position=start, display_meta=meta)

    history: Any
    try:
        folder = session.kb.home / "history"
        folder.mkdir(parents=True, exist_ok=True)
        history = FileHistory(str(folder / session.name))
    except OSError:
        history = InMemoryHistory()
    return PromptSession(history=history, completer=ShellCompleter(), complete_while_typing=False)


def _launch_viewer(path: str, console: "Console", err: "Console") -> None:
    """Open the file with the desktop's viewer, only for a person at a terminal; never fail."""
    viewer = shutil.which("xdg-open") or (shutil.which("open") if sys.platform == "darwin" else None)
    if viewer is None or not console.is_terminal:
        return
    try:
        subprocess.Popen(
            [viewer, path], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )
    except OSError as error:
        err.print(f"could not open the viewer: {error}", markup=False, highlight=False)
