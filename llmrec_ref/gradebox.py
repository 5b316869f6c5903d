"""One submission's kernel, boxed and bounded: start, run cells, answer requests, clean up.

:class:`Box` holds what is the same for a whole batch (limits, files to hide); its
:meth:`Box.kernel` gives the :class:`BoxedKernel` of one submission. Every way a kernel can go
wrong becomes a status or a :class:`~llmrec_ref.gradewire.KernelLost` with a reason:

- it does not start within ``startup_timeout`` s: the reason, never a hang;
- a cell runs past its time: interrupted; a kernel deaf to the interrupt is restarted;
- it dies: restarted (at most ``max_restarts`` times) and the finished cells run again, all
  within a budget of ``budget_factor x timeout`` seconds for the cells and the same again for
  the checks, so the cost of one submission is bounded whatever it does;
- it prints without end: outputs past ``OUTPUT_CHARS`` characters per cell are dropped, a reply
  past ``REPLY_CHARS`` fails its request.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import secrets
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from llmrec_ref.gradekernel import _descendants, kill_leftovers, launcher_argv, set_subreaper
from llmrec_ref.graderemote import (
    KernelLost,
    RemoteFunction,
    RemoteNamespace,
    RemoteObject,
    apply_changes,
    remote_exception,
)
from llmrec_ref.gradewire import MIME, WireError, decode, request_source

__all__ = ["Box", "BoxedKernel", "GradingStopped", "box_for"]

OUTPUT_CHARS = 1_000_000   # printed output kept per cell
REPLY_CHARS = 64_000_000   # the largest reply to one request


class GradingStopped(BaseException):  # noqa: N818 - SIGTERM / SIGINT, not an error of a submission
    """The grader was asked to stop; ``status`` is the exit status to return (128 + signal)."""

    def __init__(self, signal_name: str, status: int) -> None:
        super().__init__(signal_name)
        self.status = status


@dataclass
class Box:
    """Limits and hidden files for the kernels of one batch (see :mod:`llmrec_ref.gradekernel`)."""

    memory_mb: int = 3072
    startup_timeout: float = 60.0
    max_restarts: int = 3
    budget_factor: float = 10.0
    hide_dirs: list[str] = field(default_factory=list)
    hide_files: list[str] = field(default_factory=list)
    stub_dirs: list[str] = field(default_factory=list)
    command: Callable[[list[str]], list[str]] | None = None  # replaces the kernel command (tests)
    current: BoxedKernel | None = None

    def kernel(self, work: Path, token: str, timeout: float) -> BoxedKernel:
        self.current = BoxedKernel(self, work, token, timeout)
        return self.current

    def argv(self, kernel_argv: list[str], token: str, timeout: float) -> list[str]:
        if self.command is not None:
            return self.command(kernel_argv)
        cpu_s = int(2 * self.budget_factor * timeout) + 30
        return launcher_argv(kernel_argv, token, self.memory_mb, cpu_s, self.hide_dirs, self.hide_files,
                             self.stub_dirs)

    @contextlib.contextmanager
    def stop_on_signals(self):
        """Turn SIGTERM and SIGINT into :class:`GradingStopped`; on the way out, kill the kernel."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return

        def stop(signum, frame):
            raise GradingStopped(signal.Signals(signum).name, 128 + signum)

        old = {s: signal.signal(s, stop) for s in (signal.SIGTERM, signal.SIGINT)}
        try:
            yield
        finally:
            for s, handler in old.items():
                signal.signal(s, handler)
            if self.current is not None:
                kill_leftovers(self.current.token, self.current.keep)


def box_for(paths: list[Path]) -> Box:
    """The default box of a batch: every submission of it and the solution notebooks hidden, and
    the package's checks replaced by stand-ins (they run in the grader's process)."""
    from llmrec_ref.exercises import REPO_SOLUTIONS

    hide_dirs = [str(REPO_SOLUTIONS)] if REPO_SOLUTIONS.is_dir() else []
    checks = Path(__file__).resolve().parent / "checks"
    return Box(hide_dirs=hide_dirs, hide_files=sorted({str(Path(p).resolve()) for p in paths}),
               stub_dirs=[str(checks)] if checks.is_dir() else [])


def _client_class():
    from nbclient import NotebookClient

    class Client(NotebookClient):
        """nbclient that keeps at most OUTPUT_CHARS of printed output per cell."""

        out_chars = 0
        too_large = False

        def output(self, outs, msg, display_id, cell_index):
            content = msg.get("content") or {}
            data = content.get("data") if isinstance(content.get("data"), dict) else {}
            if MIME in data:
                if not isinstance(data[MIME], str) or len(data[MIME]) > REPLY_CHARS:
                    self.too_large = True
                    return None
            elif msg.get("msg_type") != "error":
                size = len(str(content.get("text", ""))) + sum(len(str(v)) for v in data.values())
                self.out_chars += size
                if self.out_chars > OUTPUT_CHARS:
                    return None
            return super().output(outs, msg, display_id, cell_index)

    return Client


class BoxedKernel:
    """The kernel of one submission; ``timeout`` bounds each cell and each request."""

    def __init__(self, box: Box, work: Path, token: str, timeout: float) -> None:
        self.box, self.work, self.token, self.timeout = box, work, token, timeout
        self.budget = box.budget_factor * timeout
        self.deadline = math.inf
        self.finished: list[str] = []  # sources to run again after a restart, in order
        self.restarts, self.need_replay, self.lost = 0, False, None
        self.client, self.keep = None, set()

    async def start(self) -> str | None:
        """Start the kernel; None when it is ready, else the reason it is not."""
        import nbformat
        from jupyter_client.manager import AsyncKernelManager

        box, token, timeout = self.box, self.token, self.timeout

        class BoxedKernelManager(AsyncKernelManager):
            def format_kernel_cmd(self, extra_arguments=None):
                return box.argv(super().format_kernel_cmd(extra_arguments), token, timeout)

        set_subreaper()
        self.keep = _descendants(os.getpid())
        self.client = _client_class()(
            nbformat.v4.new_notebook(), timeout=max(1, math.ceil(timeout)), allow_errors=True,
            kernel_name="python3", startup_timeout=max(1, math.ceil(box.startup_timeout)),
            record_timing=False, shutdown_kernel="immediate", kernel_manager_class=BoxedKernelManager,
            resources={"metadata": {"path": str(self.work)}})

        async def start():
            self.client.km = self.client.create_kernel_manager()
            await self.client.async_start_new_kernel()
            await self.client.async_start_new_kernel_client()

        try:
            await asyncio.wait_for(start(), box.startup_timeout + 5)
        except (Exception, asyncio.TimeoutError) as err:  # noqa: BLE001 - any start failure is a reason
            self.lost = (f"the kernel did not start within {box.startup_timeout:g} s "
                         f"({type(err).__name__}: {str(err)[:200]})")
            return self.lost
        self.deadline = time.monotonic() + self.budget
        return None

    async def execute(self, source: str, limit: float):
        """Run one cell within ``limit`` s: ("ok" | "error" | "timeout" | "died", the cell)."""
        import nbformat
        from nbclient.exceptions import CellTimeoutError, DeadKernelError

        cell = nbformat.v4.new_code_cell(source)
        self.client.nb.cells = [cell]
        self.client.timeout = max(1, math.ceil(limit))  # nbclient wants whole seconds
        self.client.out_chars, self.client.too_large = 0, False
        before = asyncio.all_tasks()
        try:
            await self.client.async_execute_cell(cell, 0)
        except CellTimeoutError:
            self._cancel_new_tasks(before)
            await self._stop_runaway()
            return "timeout", cell
        except (DeadKernelError, RuntimeError, OSError):
            self._cancel_new_tasks(before)
            await self._restart()
            return "died", cell
        failed = any(o.get("output_type") == "error" for o in cell.outputs)
        return ("error" if failed else "ok"), cell

    @staticmethod
    def _cancel_new_tasks(before: set) -> None:
        # nbclient leaves the pollers of a timed-out cell running; they would eat later output
        for task in asyncio.all_tasks() - before - {asyncio.current_task()}:
            task.cancel()

    async def _stop_runaway(self) -> None:
        from nbclient.exceptions import CellTimeoutError, DeadKernelError

        before = asyncio.all_tasks()
        try:
            await self.client.km.interrupt_kernel()
            self.client.timeout = max(1, math.ceil(min(10.0, max(2.0, self.timeout / 4))))
            await self.client.async_execute_cell(__import__("nbformat").v4.new_code_cell("pass"), 0)
        except (CellTimeoutError, DeadKernelError, RuntimeError, OSError):
            self._cancel_new_tasks(before)
            await self._restart()

    async def _restart(self) -> None:
        if self.restarts >= self.box.max_restarts or time.monotonic() > self.deadline:
            self.lost = f"the kernel died or hung {self.restarts + 1} times; grading of this submission stopped"
            return
        self.restarts += 1
        try:
            await asyncio.wait_for(self.client.km.restart_kernel(now=True), self.box.startup_timeout)
            await asyncio.wait_for(self.client.kc.wait_for_ready(timeout=self.box.startup_timeout),
                                   self.box.startup_timeout + 5)
            self.need_replay = True
        except (Exception, asyncio.TimeoutError) as err:  # noqa: BLE001
            self.lost = f"the kernel could not be restarted ({type(err).__name__})"

    def remaining(self) -> float:
        return self.deadline - time.monotonic()

    async def ensure_alive(self) -> str | None:
        """Run the finished cells again after a restart; None when the kernel is usable."""
        while self.need_replay and self.lost is None:
            self.need_replay = False
            for source in list(self.finished):
                if self.remaining() <= 0:
                    self.lost = f"the grading budget of {self.budget:g} s for this submission is spent"
                    break
                status, _ = await self.execute(source, min(self.timeout, self.remaining()))
                if status in ("timeout", "died"):
                    self.finished.remove(source)
                    break
        return self.lost

    async def run_cells(self, cells: list[tuple[int, str, list[str]]]) -> list[str]:
        """Run the submission's code cells in order; returns notes on the ones that misbehaved."""
        notes = []
        for number, source, tags in cells:
            where = f"cell {number} ({_first_line(source)})"
            if await self.ensure_alive() is not None:
                notes.append(f"{where} and the cells after it were not run: {self.lost}")
                break
            if self.remaining() <= 0:
                notes.append(f"{where} and the cells after it were not run: the budget of {self.budget:g} s "
                             "for running the notebook is spent")
                break
            limit = min(self.timeout, self.remaining())
            status, cell = await self.execute(source, limit)
            if status == "timeout":
                notes.append(f"{where} ran past {limit:g} s and was stopped")
            elif status == "died":
                notes.append(f"{where} killed the kernel; it was restarted")
            else:
                self.finished.append(source)
            if status == "error":
                err = next(o for o in cell.outputs if o.get("output_type") == "error")
                if err.get("ename") != "ExerciseFailed" and "raises-exception" not in tags:
                    notes.append(f"{where} raised {str(err.get('ename'))[:80]}: {str(err.get('evalue'))[:200]}")
        self.deadline = time.monotonic() + self.budget  # the checks get a budget of their own
        return notes

    async def request(self, op: str, args: tuple):
        """Ask the kernel one thing (see :mod:`llmrec_ref.gradewire`); raises KernelLost if it cannot answer."""
        if self.lost is not None or await self.ensure_alive() is not None:
            raise KernelLost(self.lost)
        if self.remaining() <= 0:
            raise KernelLost(f"the grading budget of {self.budget:g} s for this submission is spent")
        nonce = secrets.token_hex(8)
        limit = min(self.timeout, self.remaining())
        status, cell = await self.execute(request_source(op, args, nonce), limit)
        if status == "timeout":
            raise KernelLost(f"the check called your code and it ran past {limit:g} s: does it loop forever?")
        if status == "died":
            raise KernelLost("your code killed the kernel while the check was running")
        if self.client.too_large:
            raise KernelLost(f"your answer was too large to send (over {REPLY_CHARS:,} characters)")
        replies = [o["data"][MIME] for o in cell.outputs
                   if o.get("output_type") == "display_data" and MIME in o.get("data", {})]
        try:
            reply = next((r for r in map(json.loads, replies) if isinstance(r, dict) and r.get("nonce") == nonce), None)
            if reply is None:
                raise KernelLost("the kernel sent no answer to the check (does your code replace "
                                 "IPython's display, or llmrec_ref.gradewire?)")
            if reply.get("ok") is not True:
                error = reply.get("error")
                raise remote_exception(*(error if isinstance(error, list) and len(error) == 2 else ("Exception", "?")))
            transport = self.transport

            def ref(info):
                return (RemoteFunction if info.get("callable") is True else RemoteObject)(transport, info)

            value = decode(reply.get("value"), ref=ref)
            if op == "call":
                apply_changes(args[1], args[2], reply.get("changed", []), ref)
            return value
        except (WireError, ValueError, TypeError, RecursionError) as err:
            raise KernelLost(f"the kernel's answer was malformed: {type(err).__name__}: {str(err)[:200]}") from None

    def namespace(self, loop: asyncio.AbstractEventLoop) -> RemoteNamespace:
        """The namespace the checks see, used from a worker thread while ``loop`` runs the kernel."""
        def transport(op, *args):
            return asyncio.run_coroutine_threadsafe(self.request(op, args), loop).result()

        self.transport = transport
        return RemoteNamespace(transport)

    async def close(self) -> list[str]:
        """Shut the kernel down and kill whatever it left running; returns a note if it left any."""
        if self.client is not None and self.client.km is not None:
            with contextlib.suppress(Exception, asyncio.TimeoutError):
                if self.client.kc is not None:
                    self.client.kc.stop_channels()
                await asyncio.wait_for(self.client.km.shutdown_kernel(now=True), 10)
        killed = kill_leftovers(self.token, self.keep)
        if self.box.current is self:
            self.box.current = None
        return [f"{killed} process(es) the submission left running were killed"] if killed else []


def _first_line(source: str) -> str:
    line = next((s.strip() for s in source.splitlines() if s.strip()), "")
    return line if len(line) <= 40 else line[:37] + "..."
