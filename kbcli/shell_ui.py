"""The terminal side of `kbcli shell`, called from the CLI only: the interactive loop
(prompt_toolkit: line editing, history kept per index, tab completion), the script loop (stdin
is not a terminal: one line at a time, no prompt), and the rendering of what each line produced."""

from __future__ import annotations

import shutil
import subprocess
import sys
from typing import TYPE_CHECKING, Any, Iterable

from kbcli.shell import Answer, Context, Help, Info, Note, Open, Output, Problem, Quit, ShellSession, completions

if TYPE_CHECKING:
    from rich.console import Console


def render_output(out: Output, console: "Console", err: "Console", as_json: bool, script: bool) -> None:
    """Show what a line produced. In script mode stdout carries answers only; notes go to stderr."""
    from rich.table import Table
    from rich.text import Text

    from kbcli.render import print_json, render_context, render_info, render_result

    notes = err if script else console
    if isinstance(out, Answer):
        if as_json:
            data = {**out.result.to_json(), "seconds": out.result.seconds}
            if out.text is not None:
                data["answer"] = out.text
            print_json(data)
        else:
            if out.text is not None:
                from rich.panel import Panel

                console.print(Panel(Text(out.text), title="answer", title_align="left", border_style="green"))
            render_result(console, out.result, show_query=script)
        if out.failure is not None:
            err.print(Text(f"error: {out.failure}", style="red"), soft_wrap=True)
    elif isinstance(out, Context):
        if as_json:
            hit = out.hit.to_json()
            print_json({**hit, "before": out.before, "after": out.after})
        else:
            render_context(console, out.hit, out.before, out.after, out.query)
    elif isinstance(out, Open):
        if as_json:
            print_json({"open": out.target, "file": out.hit.file, "page": out.hit.page})
        else:
            console.print(out.target, markup=False, highlight=False, soft_wrap=True)
    elif isinstance(out, Info):
        if as_json:
            print_json(out.data, pretty=not script)
        else:
            render_info(console, out.data)
            settings = ", ".join(f"{k}={_show(v)}" for k, v in out.data["shell"].items())
            console.print(Text(f"shell: {settings}"))
    elif isinstance(out, Help):
        table = Table(show_header=False, box=None, padding=(0, 2, 0, 0))
        for command in out.commands:
            table.add_row(Text(f"{command.name} {command.args}".strip(), style="bold"), Text(command.help))
        notes.print(Text("Type a question, or a command:"))
        notes.print(table)
        notes.print(Text("Ctrl-C abandons the line or a running search; Tab completes commands."))
    elif isinstance(out, Note):
        notes.print(Text(out.text, style="dim" if not script else ""), soft_wrap=True)
    elif isinstance(out, Problem):
        err.print(Text(f"error: {out.text}", style="red"), soft_wrap=True)


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    return "off" if value is None else str(value)


def run_script(session: ShellSession, lines: Iterable[str], console: "Console", err: "Console") -> int:
    """stdin is not a terminal: one question or command a line, no prompt. Exit 1 if any failed."""
    failed = 0
    for line in lines:
        out = session.handle(line)
        if isinstance(out, Quit):
            break
        if isinstance(out, Problem):
            failed += 1
        if out is not None:
            render_output(out, console, err, session.as_json, script=True)
    return 1 if failed else 0


def run_terminal(session: ShellSession, console: "Console", err: "Console", debug: bool = False) -> int:
    """The interactive loop: Ctrl-C abandons the line or the running search, Ctrl-D leaves."""
    from rich.text import Text

    stats = session.searcher.reader.stats() if session.searcher else {}
    err.print(
        Text(
            f"kbcli shell · index {session.name!r} · {stats.get('files_ok', 0)} files, {stats.get('chunks', 0)} chunks"
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
                render_output(out, console, err, session.as_json, script=False)
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
