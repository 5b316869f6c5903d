"""The box a submission's kernel runs in: limits, hidden files, and nothing left behind.

``python -m llmrec_ref.gradekernel [options] -- KERNEL_ARGV...`` is put in front of the kernel's
command by the grader. Before it becomes the kernel (``os.execv``) it

- marks its environment with ``LLMREC_GRADE_TOKEN`` (every process the kernel starts inherits
  it, so :func:`kill_leftovers` finds them even after ``setsid``);
- enters new user, mount and pid namespaces (``unshare``) and forks: the kernel becomes pid 1
  of its own pid namespace with a /proc of its own, so it cannot see, signal or read the
  grader (or any other process), and when it ends every process it started ends with it;
  where user namespaces are refused it falls back to a mount namespace (root) or to nothing;
- hides files in its mount namespace: an empty read-only folder over each ``--hide-dir`` (the
  solution notebooks), a read-only folder of stand-ins over each ``--stub-dir`` (the package's
  checks, ``llmrec_ref/checks``: the grader runs them in its own process, so the kernel needs
  none of their code; ``from llmrec_ref.checks import ch01`` still works there, and ``ch01.ex1``
  only says that the grader runs it) and ``/dev/null`` over each ``--hide-file`` (every
  submission of the batch),
  and remounts every file system read-only except its working folder (``TMPDIR`` points there);
- sets Linux rlimits: address space (``RLIMIT_AS``, ``--memory-mb``), CPU seconds
  (``RLIMIT_CPU``), processes (``RLIMIT_NPROC``; not enforced for root), core files off.

On other systems (macOS, Windows) rlimits and namespaces do not exist: the kernel runs
unlimited and sees every file and process; :func:`sandbox_available` says so.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import os
import re
import signal
import sys
import time

__all__ = ["TOKEN_VAR", "kill_leftovers", "launcher_argv", "main", "sandbox_available", "set_subreaper"]

TOKEN_VAR = "LLMREC_GRADE_TOKEN"
CLONE_NEWNS, CLONE_NEWUSER = 0x00020000, 0x10000000
CLONE_NEWPID = 0x20000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REMOUNT, MS_BIND, MS_REC = 1, 2, 4, 8, 32, 4096, 16384
MS_PRIVATE = 1 << 18
ATIME = {"noatime": 1024, "nodiratime": 2048, "relatime": 1 << 21}  # MS_STRICTATIME = 1 << 24
KEEP_WRITABLE = ("/proc", "/sys", "/dev")  # pseudo file systems, nothing a grader imports


def sandbox_available() -> bool:
    """True on Linux, where the rlimits, the mount namespace and the /proc scan all work."""
    return sys.platform.startswith("linux")


def launcher_argv(kernel_argv: list[str], token: str, memory_mb: int, cpu_s: int,
                  hide_dirs: list[str], hide_files: list[str], stub_dirs: list[str] = ()) -> list[str]:
    """The kernel's command with this launcher in front of it (Linux), else unchanged."""
    if not sandbox_available():
        return list(kernel_argv)
    argv = [sys.executable, "-m", "llmrec_ref.gradekernel", "--token", token,
            "--memory-mb", str(memory_mb), "--cpu-s", str(cpu_s)]
    for d in hide_dirs:
        argv += ["--hide-dir", d]
    for f in hide_files:
        argv += ["--hide-file", f]
    for d in stub_dirs:
        argv += ["--stub-dir", d]
    return argv + ["--", *kernel_argv]


def _libc():
    return ctypes.CDLL(None, use_errno=True)


def _enter_namespaces() -> str:
    """Enter new namespaces: "pid" (user + mount + pid: the kernel must be forked), "mount"
    (mount only, as root without user namespaces), or "" (none: nothing can be hidden)."""
    libc = _libc()
    uid, gid = os.getuid(), os.getgid()
    if libc.unshare(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID) == 0:
        for name, text in (("setgroups", "deny"), ("uid_map", f"{uid} {uid} 1"), ("gid_map", f"{gid} {gid} 1")):
            with open(f"/proc/self/{name}", "w") as f:
                f.write(text)
        level = "pid"
    elif libc.unshare(CLONE_NEWNS) == 0:
        level = "mount"
    else:
        return ""
    if libc.mount(None, b"/", None, MS_REC | MS_PRIVATE, None) != 0:
        return ""
    return level


def _hide(hide_dirs: list[str], hide_files: list[str], new_proc: bool) -> list[str]:
    """Mount over what the kernel must not read (and a /proc of its own); returns what failed."""
    libc, failed = _libc(), []
    if new_proc and libc.mount(b"proc", b"/proc", b"proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, None) != 0:
        failed.append("/proc")
    for d in hide_dirs:
        if os.path.isdir(d) and libc.mount(b"llmrec-hidden", os.fsencode(d), b"tmpfs",
                                           MS_RDONLY | MS_NOSUID | MS_NODEV, b"size=4k") != 0:
            failed.append(d)
    for f in hide_files:
        if os.path.isfile(f) and libc.mount(b"/dev/null", os.fsencode(f), None, MS_BIND, None) != 0:
            failed.append(f)
    return failed


STUB_INIT = '''"""Hidden while grading: the grader runs the checks in its own process, not in this kernel."""


class ExerciseFailed(AssertionError):
    """An exercise's answer is missing or wrong (the grader says which)."""
'''
STUB_CHAPTER = '''"""Hidden while grading: the grader runs this chapter's checks in its own process."""


def __getattr__(name):
    if name.startswith("ex"):
        return _run_by_the_grader
    raise AttributeError(name)


def _run_by_the_grader(ns=None):
    print("(this check is run by the grader, outside this kernel)")
'''


def _stub(stub_dirs: list[str]) -> list[str]:
    """Mount, over each folder of checks, a read-only folder of stand-ins with the same module
    names (``chNN.py``): the kernel's ``from llmrec_ref.checks import chNN`` still imports, but no
    check's code (its cases, its hints) can be read or imported there. Returns what failed."""
    libc, failed = _libc(), []
    for d in stub_dirs:
        if not os.path.isdir(d):
            continue
        chapters = sorted(n for n in os.listdir(d) if re.fullmatch(r"ch\d+\.py", n))  # before they are covered
        if libc.mount(b"llmrec-stub", os.fsencode(d), b"tmpfs", MS_NOSUID | MS_NODEV, b"size=256k") != 0:
            failed.append(d)
            continue
        for name, text in [("__init__.py", STUB_INIT)] + [(c, STUB_CHAPTER) for c in chapters]:
            with open(os.path.join(d, name), "w", encoding="utf-8") as f:
                f.write(text)
        if libc.mount(None, os.fsencode(d), None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV, None) != 0:
            failed.append(f"{d} (read-only)")
    return failed


def _read_only_except(writable: str) -> list[str]:
    """Remount every file system read-only for the kernel, except ``writable`` (its working
    folder): a submission cannot change the package, the Python it runs on or a classmate's
    files, so nothing it writes can reach the grader or a later grading."""
    libc = _libc()
    if libc.mount(os.fsencode(writable), os.fsencode(writable), None, MS_BIND | MS_REC, None) != 0:
        return [writable]
    os.chdir(writable)  # onto the new mount: the old working directory is on the one made read-only
    failed = []
    with open("/proc/self/mountinfo", encoding="utf-8", errors="surrogateescape") as f:
        mounts = [line.split() for line in f]
    for fields in mounts:
        target = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), fields[4])
        if target == writable or target.startswith(KEEP_WRITABLE) or "ro" in fields[5].split(","):
            continue
        options = fields[5].split(",")
        flags = MS_REMOUNT | MS_BIND | MS_RDONLY  # keep the flags a user namespace may not drop
        flags |= MS_NOSUID * ("nosuid" in options) | MS_NODEV * ("nodev" in options)
        flags |= MS_NOEXEC * ("noexec" in options)
        flags |= sum(v for k, v in ATIME.items() if k in options) or 1 << 24
        if libc.mount(None, os.fsencode(target), None, flags, None) != 0:
            failed.append(target)
    return failed


def _limit(resource_id: int, value: int) -> None:
    import resource

    try:
        resource.setrlimit(resource_id, (value, value))
    except (ValueError, OSError):  # a hard limit already lower: keep it
        pass


def main(argv: list[str] | None = None) -> None:
    """Enter the namespaces, hide the files, apply the limits, then become the kernel."""
    parser = argparse.ArgumentParser(prog="python -m llmrec_ref.gradekernel")
    parser.add_argument("--token", required=True)
    parser.add_argument("--memory-mb", type=int, required=True)
    parser.add_argument("--cpu-s", type=int, required=True)
    parser.add_argument("--hide-dir", action="append", default=[])
    parser.add_argument("--hide-file", action="append", default=[])
    parser.add_argument("--stub-dir", action="append", default=[])
    parser.add_argument("kernel", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    kernel = args.kernel[1:] if args.kernel[:1] == ["--"] else args.kernel
    os.environ[TOKEN_VAR] = args.token
    os.makedirs(".tmp", exist_ok=True)
    os.environ["TMPDIR"] = os.path.abspath(".tmp")  # the only writable place besides the folder
    os.environ["IPYTHONDIR"] = os.path.abspath(".tmp/ipython")  # IPython's and matplotlib's
    os.environ["MPLCONFIGDIR"] = os.path.abspath(".tmp/matplotlib")  # settings land there too
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = "1"  # one thread: predictable CPU time and address space per submission
    nproc = _user_tasks() + 64
    level = _enter_namespaces()
    if level == "pid":  # the kernel is pid 1 of its own namespace: when it ends, all it started ends
        child = os.fork()
        if child:
            _wait_for(child)
        _libc().prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG: die with this launcher
    failed = _hide(args.hide_dir, args.hide_file, new_proc=level == "pid") if level else ["everything"]
    failed += _stub(args.stub_dir) if level else []
    if level:
        failed += [f"{p} (read-only)" for p in _read_only_except(os.getcwd())]
    if failed:
        print(f"llmrec grader: could not hide {', '.join(failed)} from the kernel", file=sys.stderr)
    import resource

    _limit(resource.RLIMIT_AS, args.memory_mb * 2**20)
    _limit(resource.RLIMIT_CPU, args.cpu_s)
    _limit(resource.RLIMIT_CORE, 0)
    _limit(resource.RLIMIT_NPROC, nproc)  # counts all of this user's threads
    os.execv(kernel[0], kernel)


def _wait_for(child: int) -> None:
    """The launcher's half after the fork: pass termination signals on, exit as the kernel did."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # an interrupt goes to the whole process group
    for signum in (signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT):
        signal.signal(signum, lambda s, frame: os.kill(child, s))
    while True:
        try:
            _, status = os.waitpid(child, 0)
            break
        except InterruptedError:
            continue
    os._exit(os.waitstatus_to_exitcode(status) % 256)


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
    a daemon that a kernel started even when it cleared its environment; and make it
    non-dumpable, so a kernel of the same user cannot read or write its memory through /proc."""
    if sandbox_available():
        _libc().prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
        _libc().prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE 0


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

    def targets_now() -> set[int]:
        found = {p for p in _pids() if p != os.getpid() and _has_token(p, token)}
        return {p for p in found | (_descendants(os.getpid()) - keep) if not _zombie(p)}

    killed: set[int] = set()
    for _ in range(50):  # a kernel killed a moment ago takes a moment to go: not a left-over
        if not targets_now():
            break
        time.sleep(0.02)
    for _ in range(20):  # a fork bomb may add processes while we kill: repeat until none is left
        targets = targets_now() - killed
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
