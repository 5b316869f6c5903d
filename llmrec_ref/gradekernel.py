"""The box a submission's kernel runs in: limits, hidden files, and nothing left behind.

``python -m llmrec_ref.gradekernel [options] -- KERNEL_ARGV...`` is put in front of the kernel's
command by the grader. Before it becomes the kernel (``os.execv``) it

- marks its environment with ``LLMREC_GRADE_TOKEN`` (every process the kernel starts inherits
  it, so :func:`kill_leftovers` finds them even after ``setsid``);
- sets Linux rlimits: address space (``RLIMIT_AS``, ``--memory-mb``), CPU seconds
  (``RLIMIT_CPU``), processes (``RLIMIT_NPROC``; not enforced for root), core files off;
- hides files from the kernel in a private mount namespace (Linux: ``unshare``, as root or
  through a user namespace): an empty read-only folder over each ``--hide-dir`` (the solution
  notebooks) and ``/dev/null`` over each ``--hide-file`` (every submission of the batch).

On other systems (macOS, Windows) rlimits and mount namespaces do not exist: the kernel runs
unlimited and sees every file; :func:`sandbox_available` says so and the grader warns.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import os
import signal
import sys
import time

__all__ = ["TOKEN_VAR", "kill_leftovers", "launcher_argv", "main", "sandbox_available", "set_subreaper"]

TOKEN_VAR = "LLMREC_GRADE_TOKEN"
CLONE_NEWNS, CLONE_NEWUSER = 0x00020000, 0x10000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_BIND, MS_REC, MS_PRIVATE = 1, 2, 4, 4096, 16384, 1 << 18


def sandbox_available() -> bool:
    """True on Linux, where the rlimits, the mount namespace and the /proc scan all work."""
    return sys.platform.startswith("linux")


def launcher_argv(kernel_argv: list[str], token: str, memory_mb: int, cpu_s: int,
                  hide_dirs: list[str], hide_files: list[str]) -> list[str]:
    """The kernel's command with this launcher in front of it (Linux), else unchanged."""
    if not sandbox_available():
        return list(kernel_argv)
    argv = [sys.executable, "-m", "llmrec_ref.gradekernel", "--token", token,
            "--memory-mb", str(memory_mb), "--cpu-s", str(cpu_s)]
    for d in hide_dirs:
        argv += ["--hide-dir", d]
    for f in hide_files:
        argv += ["--hide-file", f]
    return argv + ["--", *kernel_argv]


def _libc():
    return ctypes.CDLL(None, use_errno=True)


def _private_mounts() -> None:
    libc = _libc()
    if libc.unshare(CLONE_NEWNS) != 0:  # not root: a user namespace gives the right to mount
        uid, gid = os.getuid(), os.getgid()
        if libc.unshare(CLONE_NEWUSER | CLONE_NEWNS) != 0:
            raise OSError(ctypes.get_errno(), "unshare failed")
        for name, text in (("setgroups", "deny"), ("uid_map", f"{uid} {uid} 1"), ("gid_map", f"{gid} {gid} 1")):
            with open(f"/proc/self/{name}", "w") as f:
                f.write(text)
    if libc.mount(None, b"/", None, MS_REC | MS_PRIVATE, None) != 0:
        raise OSError(ctypes.get_errno(), "making / private failed")


def _hide(hide_dirs: list[str], hide_files: list[str]) -> list[str]:
    """Mount over what the kernel must not read; returns what could not be hidden."""
    failed = []
    try:
        _private_mounts()
    except OSError:
        return hide_dirs + hide_files
    libc = _libc()
    for d in hide_dirs:
        if os.path.isdir(d) and libc.mount(b"llmrec-hidden", os.fsencode(d), b"tmpfs",
                                           MS_RDONLY | MS_NOSUID | MS_NODEV, b"size=4k") != 0:
            failed.append(d)
    for f in hide_files:
        if os.path.isfile(f) and libc.mount(b"/dev/null", os.fsencode(f), None, MS_BIND, None) != 0:
            failed.append(f)
    return failed


def _limit(resource_id: int, value: int) -> None:
    import resource

    try:
        resource.setrlimit(resource_id, (value, value))
    except (ValueError, OSError):  # a hard limit already lower: keep it
        pass


def main(argv: list[str] | None = None) -> None:
    """Apply the limits and hide the files, then become the kernel."""
    parser = argparse.ArgumentParser(prog="python -m llmrec_ref.gradekernel")
    parser.add_argument("--token", required=True)
    parser.add_argument("--memory-mb", type=int, required=True)
    parser.add_argument("--cpu-s", type=int, required=True)
    parser.add_argument("--hide-dir", action="append", default=[])
    parser.add_argument("--hide-file", action="append", default=[])
    parser.add_argument("kernel", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    kernel = args.kernel[1:] if args.kernel[:1] == ["--"] else args.kernel
    import resource

    failed = _hide(args.hide_dir, args.hide_file)
    if failed:
        print(f"llmrec grader: could not hide {len(failed)} path(s) from the kernel", file=sys.stderr)
    os.environ[TOKEN_VAR] = args.token
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = "1"  # one thread: predictable CPU time and address space per submission
    _limit(resource.RLIMIT_AS, args.memory_mb * 2**20)
    _limit(resource.RLIMIT_CPU, args.cpu_s)
    _limit(resource.RLIMIT_CORE, 0)
    _limit(resource.RLIMIT_NPROC, _user_tasks() + 64)  # counts all of this user's threads
    os.execv(kernel[0], kernel)


def _user_tasks() -> int:
    uid = os.getuid()
    count = 0
    for pid in _pids():
        try:
            count += os.stat(f"/proc/{pid}").st_uid == uid and len(os.listdir(f"/proc/{pid}/task"))
        except OSError:
            pass
    return count


def _pids() -> list[int]:
    try:
        return [int(p) for p in os.listdir("/proc") if p.isdigit()]
    except OSError:
        return []


def _parent(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return int(f.read().rsplit(b")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return None


def _zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0] in (b"Z", b"X")
    except (OSError, IndexError):
        return True


def _has_token(pid: int, token: str) -> bool:
    try:
        with open(f"/proc/{pid}/environ", "rb") as f:
            return f"{TOKEN_VAR}={token}".encode() in f.read().split(b"\0")
    except OSError:
        return False


def set_subreaper() -> None:
    """Make this process adopt its orphaned descendants (Linux), so :func:`kill_leftovers` finds
    a daemon that a kernel started even when it cleared its environment."""
    if sandbox_available():
        _libc().prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER


def _descendants(root: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for pid in _pids():
        parent = _parent(pid)
        if parent is not None:
            children.setdefault(parent, []).append(pid)
    found, todo = set(), [root]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def kill_leftovers(token: str, keep: set[int]) -> int:
    """SIGKILL every process carrying ``token`` and every descendant of this process not in
    ``keep``; reap the ones that are our children. Returns how many were killed."""
    if not sandbox_available():
        return 0
    killed: set[int] = set()
    for _ in range(20):  # a fork bomb may add processes while we kill: repeat until none is left
        targets = {p for p in _pids() if p != os.getpid() and _has_token(p, token)}
        targets |= _descendants(os.getpid()) - keep
        targets = {p for p in targets - killed if not _zombie(p)}
        if not targets:
            break
        for pid in targets:
            try:
                os.kill(pid, signal.SIGKILL)
                killed.add(pid)
            except OSError:
                pass
        time.sleep(0.02)
    for pid in _descendants(os.getpid()) - keep:  # reap the adopted ones
        if _zombie(pid):
            with contextlib.suppress(ChildProcessError, OSError):
                os.waitpid(pid, os.WNOHANG)
    return len(killed)


if __name__ == "__main__":
    main()
