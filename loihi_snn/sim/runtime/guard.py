"""Supervised Lava runs: a failing or hung run ends in a clean :class:`RunError`.

Why this exists
---------------
Lava (lava-nc 0.10) runs every process model in its own forked OS process and
synchronises all of them on every time step.  When a model raises inside
``run_spk``, its OS process exits, the processes downstream of it wait forever for
the spikes it never sends, the runtime service waits forever for *their* answer,
and the blocking ``process.run()`` never returns; ``process.stop()`` then hangs too
(it waits for a TERMINATED answer from a runtime service that is itself stuck).  A
genuinely deadlocked model (e.g. the known recurrent-Conv deadlock) looks the same.

How it works
------------
:func:`run_supervised` forks one *runner* process that does the whole Lava run
(compile, run in chunks, read the sink, stop) and sends the result back through a
pipe.  Inside the runner a watchdog thread waits on

- the sentinels of Lava's model processes: one that exits during the run is a
  failed model (Lava's ``SystemProcess`` hands us its exception and traceback);
- the deadline (``timeout`` seconds after the runner started, compile included);
- the stall deadline (below): a run that makes no progress ends, even without a timeout;
- the parent's pipe (an ``abort`` request after Ctrl-C, or EOF if the parent died).

On any of these it tears the run down without Lava's blocking handshakes: SIGTERM
(then SIGKILL) to every model process, then ``shutdown()`` of Lava's shared-memory
manager, which unlinks every ``/dev/shm`` segment of the run, and finally exits.
The runner sits in a process group of its own, so a Ctrl-C in a terminal reaches
only the caller, which asks the runner to clean up; as a last resort (a runner that
does not answer ``CLEANUP_GRACE_S`` after its deadline) the parent kills the group.

No progress: the stall deadline
-------------------------------
Every run has one, whatever the caller asked: nothing waits forever.  The run goes in
chunks (``RunSteps`` calls); while Lava runs a chunk the watchdog ends the run as
*stalled* when either

- no process of the run (the model processes and Lava's runtime services) used the CPU
  for ``stall_timeout`` seconds: Lava's processes block (no CPU) only while they wait
  for one another, so a run in which all of them wait is deadlocked (a model stuck in a
  lock, a dead thread pool, a lost message); or
- the chunk of n steps has not finished ``stall_timeout + STALL_STEP_S * n`` seconds
  after it began (plus ``STALL_START_S`` for the first chunk, which compiles and starts
  the processes): a run that is busy but does not advance (a model spinning in a loop).

``stall_timeout`` defaults to :data:`STALL_TIMEOUT_S` (60 s); the ``stall_timeout``
argument of every run function, the CLI's ``--stall-timeout`` and the environment
variable ``LOIHI_SNN_STALL_TIMEOUT`` override it.  A slow run is never ended while its
processes compute and its chunks finish within their allowance: a legitimately long
run needs no setting.  The error (``RunError`` with ``stalled`` True; exit status 2
from the CLI) names the backend, the network, the step reached and the processes that
stalled, and the run is torn down like a timed-out one.

Two readers, one pipe
---------------------
Under ``AsyncProtocol`` Lava's own main thread also handles a failed model: it
``join()``s every actor, which *closes* the actor (its sentinel becomes unusable) and
reads the exception from the actor's one-message pipe.  The watchdog therefore never
depends on Lava's handles staying open or on being the one that reads the pipe:

- it watches its own duplicate of every actor's sentinel, taken when the actor first
  appears, and also treats an actor Lava has already joined (``_is_done``) as ended;
- it never *receives* from an actor's exception pipe (two receivers of one
  connection can split a message between them and both block forever): it peeks at
  the message, or takes what Lava's reader stored (``SystemProcess._exception``);
- every read of an actor's state tolerates an actor closed meanwhile.

Lava internals read (never modified): ``Runtime._messaging_infrastructure`` (its
``actors`` and ``smm``), ``Runtime._watchdog_manager``,
``Runtime._executable.proc_builders`` (to name the failed model) and
``SystemProcess._is_done`` / ``_exception`` / ``_pconn`` (peeked, never received
from).  Everything else is public API.
"""
from __future__ import annotations

import multiprocessing as mp
import os
import pickle
import signal
import socket
import struct
import sys
import threading
import time
from multiprocessing.connection import wait as _wait_ready
from typing import Any, Callable, List, Optional, Sequence, Tuple

from loihi_snn.core.errors import OptionError, RunError
from loihi_snn.core.limits import env_seconds

POLL_S = 0.05            # watchdog / parent polling period, seconds
STOP_GRACE_S = 30.0      # a normal stop() taking longer than this is forced, seconds
CLEANUP_GRACE_S = 15.0   # time the parent allows the runner for its own cleanup, seconds
TERM_GRACE_S = 2.0       # time a model process gets to exit after SIGTERM, seconds
EXC_READ_S = 2.0         # time to get a failed actor's exception from its pipe, seconds
FAILURE_PASSES = 4       # looks for a failed model's exception before reporting none
STALL_TIMEOUT_S = 60.0   # default stall deadline: no CPU used by any process, seconds
STALL_STEP_S = 1.0       # allowance per time step of a chunk, seconds
STALL_START_S = 120.0    # extra allowance of the first chunk (compile, start), seconds
CPU_SAMPLE_S = 1.0       # how often the watchdog reads the processes' CPU time, seconds
IDLE_TICKS = 1           # CPU clock ticks per sample that still count as idle
_CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100

#: PID (= process group id) of the most recent runner, for diagnostics and tests: every
#: OS process of that Lava run (models, runtime services, shared-memory manager) is in
#: this process group.
last_runner_pid: Optional[int] = None


def _one_line(text: str, limit: int = 400) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit - 3] + "..."


class _Runner:
    """State of the forked runner process (main thread + watchdog thread)."""

    def __init__(self, conn, source, timeout: Optional[float], total: int, what: str,
                 stall: float = STALL_TIMEOUT_S, backend: str = "lava") -> None:
        self.conn = conn
        self.source = source
        self.timeout = timeout
        self.total = total
        self.what = what
        self.stall = float(stall)
        self.backend = backend
        self.t0 = time.monotonic()
        self.steps_done = 0
        # the chunk Lava is running (set by the main thread around ``source.run``)
        self.in_run = False
        self.chunk_steps = 0
        self.chunk_end: Optional[float] = None    # monotonic deadline of this chunk
        self.chunk_allow = 0.0
        self._cpu: dict = {}                       # pid -> CPU ticks at the last sample
        self._cpu_at = 0.0
        self.idle_since = time.monotonic()
        self.busy: List[str] = []                  # processes that used the CPU lately
        self.phase = "running"          # running -> stopping
        self.stop_deadline: Optional[float] = None
        self.result: Any = None
        self._send_lock = threading.Lock()
        self._end_lock = threading.Lock()

    # ------------------------------------------------------------------ messaging
    def send(self, msg) -> None:
        with self._send_lock:
            try:
                self.conn.send(msg)
            except (OSError, ValueError):      # parent gone: nothing to tell
                pass

    @staticmethod
    def exit() -> None:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:  # noqa: BLE001
                pass
        os._exit(0)

    # ------------------------------------------------------------------ chunks
    def begin_chunk(self, steps: int, first: bool) -> None:
        """Called by the main thread just before ``source.run`` of ``steps`` steps."""
        now = time.monotonic()
        self.chunk_steps = int(steps)
        self.chunk_allow = self.stall + STALL_STEP_S * steps + (STALL_START_S if first else 0)
        self.chunk_end = now + self.chunk_allow
        self.idle_since = now
        self._cpu, self._cpu_at = {}, 0.0
        self.in_run = True
        self.send(("chunk", self.chunk_allow))     # the parent's backstop (run_supervised)

    def end_chunk(self, steps: int) -> None:
        self.in_run = False
        self.steps_done += int(steps)

    def check_stall(self, now: float) -> None:
        """Abort as ``stall`` when the chunk Lava runs made no progress (module docstring)."""
        if not self.in_run:
            return
        if now - self._cpu_at >= CPU_SAMPLE_S:
            self._sample_cpu(now)
        if self._cpu and now - self.idle_since > self.stall:
            self.abort("stall", reason="idle")
        if self.chunk_end is not None and now > self.chunk_end:
            self.abort("stall", reason="slow")

    def _sample_cpu(self, now: float) -> None:
        """Read every Lava process's CPU time; any that advanced (or a new process)
        restarts the idle clock."""
        ticks, names = {}, {}
        model_names = self._names()
        for i, a in enumerate(self.actors()):
            pid = getattr(a, "pid", None)
            value = None if pid is None else _cpu_ticks(pid)
            if value is not None:
                ticks[pid] = value
                names[pid] = model_names[i] if i < len(model_names) \
                    else "(Lava runtime service)"
        busy = [names[pid] for pid, t in ticks.items()
                if t - self._cpu.get(pid, -IDLE_TICKS - 1) > IDLE_TICKS]
        if busy or not ticks:
            self.idle_since = now
        self.busy = busy
        self._cpu, self._cpu_at = ticks, now

    # ------------------------------------------------------------------ Lava state
    def _infrastructure(self):
        runtime = getattr(self.source, "runtime", None)
        return getattr(runtime, "_messaging_infrastructure", None)

    def actors(self) -> List[Any]:
        mi = self._infrastructure()
        try:
            return list(getattr(mi, "actors", None) or [])
        except Exception:  # noqa: BLE001
            return []

    def _names(self) -> List[str]:
        """Names of the model processes, in the order Lava started them.

        ``Runtime._build_processes`` starts one actor per ``PyProcessBuilder`` of the
        executable, in order, before the runtime services.
        """
        try:
            from lava.magma.compiler.builders.py_builder import (  # lazy: Lava is heavy
                PyProcessBuilder)
            runtime = getattr(self.source, "runtime", None)
            builders = getattr(getattr(runtime, "_executable", None), "proc_builders", None)
            return [f"'{proc.name}' ({builder.proc_model.__name__})"
                    for proc, builder in (builders or {}).items()
                    if isinstance(builder, PyProcessBuilder)]
        except Exception:  # noqa: BLE001 - names are a nicety
            return []

    def failures(self) -> List[str]:
        """One description per model process that exited, with its exception.

        A model's exception reaches its pipe just before its process exits, and another
        actor (a runtime service told of the error) may end first: so when no exception
        is found yet, look again a few times (``FAILURE_PASSES``, ``POLL_S`` * 10 apart).
        """
        out: List[str] = []
        for attempt in range(FAILURE_PASSES):
            if attempt:
                time.sleep(10 * POLL_S)
            out = self._scan_failures()
            if any(" raised " in line for line in out):
                break
        return out

    def _scan_failures(self) -> List[str]:
        out = []
        names = self._names()
        for i, actor in enumerate(self.actors()):
            name = names[i] if i < len(names) else "(Lava runtime service)"
            try:       # a closed sentinel comes slightly before the exit status: reap it
                if _wait_ready([actor.sentinel], timeout=0):
                    mp.Process.join(actor, TERM_GRACE_S)
            except Exception:  # noqa: BLE001 - closed by Lava's own join
                pass
            try:
                alive = actor.is_alive()
            except Exception:  # noqa: BLE001 - closed by Lava's own join
                alive = False
            exc_info = _actor_exception(actor)
            if exc_info:
                exc, tb = exc_info if isinstance(exc_info, tuple) else (exc_info, "")
                where = _last_frame(tb)
                out.append(f"process {name} raised "
                           f"{type(exc).__name__}: {exc}" + (f" ({where})" if where else ""))
            elif not alive:
                # a clean exit (code 0) is a model that Lava itself stopped
                try:
                    code = actor.exitcode
                except Exception:  # noqa: BLE001 - closed by Lava's own join
                    code = None
                if code not in (None, 0):
                    out.append(f"process {name} exited "
                               f"unexpectedly with exit code {code}")
        return out

    def force_cleanup(self) -> None:
        """Kill every model process and free the run's shared memory (no handshakes)."""
        actors = self.actors()
        for a in actors:
            try:
                if a.is_alive():
                    a.terminate()
            except Exception:  # noqa: BLE001
                pass
        deadline = time.monotonic() + TERM_GRACE_S
        for a in actors:
            try:
                mp.Process.join(a, max(0.0, deadline - time.monotonic()))
                if a.is_alive():
                    a.kill()
                    mp.Process.join(a, TERM_GRACE_S)
            except Exception:  # noqa: BLE001
                pass
        mi = self._infrastructure()
        smm = getattr(mi, "smm", None)
        if smm is not None:
            try:
                smm.shutdown()          # the manager's server unlinks every segment
            except Exception:  # noqa: BLE001
                pass
        runtime = getattr(self.source, "runtime", None)
        wdm = getattr(runtime, "_watchdog_manager", None)
        if wdm is not None:
            try:
                wdm.stop()
            except Exception:  # noqa: BLE001
                pass
        # anything else this runner started and that is still there
        for p in mp.active_children():
            try:
                p.terminate()
                p.join(TERM_GRACE_S)
                if p.is_alive():
                    p.kill()
                    p.join(TERM_GRACE_S)
            except Exception:  # noqa: BLE001
                pass

    # ------------------------------------------------------------------ endings
    def abort(self, kind: str, detail: Optional[BaseException] = None,
              reason: str = "") -> None:
        """Tear the run down, report ``kind`` to the parent and exit (never returns)."""
        self._end_lock.acquire()          # the first ending wins; others wait for exit
        try:
            if kind == "stop-timeout":        # the result is there; only stop() hung
                self.force_cleanup()
                self.send(("ok", self.result))
                return
            try:
                failures = self.failures() if kind in ("model", "error") else []
            except Exception:  # noqa: BLE001 - the ending must still be reported
                failures = []
            self.force_cleanup()
            self.send(("error", kind, self._message(kind, detail, failures, reason),
                       self.steps_done, self.total))
        finally:
            self.exit()

    def _message(self, kind: str, detail: Optional[BaseException],
                 failures: Sequence[str], reason: str = "") -> str:
        done = f"{self.steps_done} of {self.total} steps completed"
        if kind == "stall":
            return _one_line(self._stall_message(reason), limit=600)
        if kind == "timeout":
            started = getattr(self.source, "runtime", None) is not None
            where = "" if started or self.steps_done else \
                " (still compiling/starting the Lava processes)"
            return _one_line(f"Lava run of {self.what} timed out after {self.timeout:g} s "
                             f"with {done}{where}; the run was stopped and its processes "
                             f"and shared memory cleaned up")
        if kind == "interrupted":
            return f"Lava run of {self.what} was interrupted with {done}"
        if kind == "parent-gone":
            return f"Lava run of {self.what}: the calling process exited"
        if failures:
            return _one_line(f"Lava run of {self.what} failed ({done}): "
                             + "; ".join(failures))
        if detail is not None:
            return _one_line(f"Lava run of {self.what} failed ({done}): "
                             f"{type(detail).__name__}: {detail}")
        return _one_line(f"Lava run of {self.what} failed ({done}): a Lava process exited "
                         f"unexpectedly")

    def _stall_message(self, reason: str) -> str:
        names = self._names()
        shown = ", ".join(names[:4]) + (f" and {len(names) - 4} more" if len(names) > 4 else "")
        where = (f"Lava run of {self.what} on backend '{self.backend}' stalled in steps "
                 f"{self.steps_done + 1}-{self.steps_done + self.chunk_steps} of {self.total} "
                 f"({self.steps_done} completed)")
        if reason == "idle":
            what = (f"no Lava process used the CPU for {self.stall:g} s, so they all wait "
                    f"on one another (a deadlock); model processes: {shown or 'none'}")
        else:
            busy = ", ".join(self.busy[:4]) or "none"
            what = (f"these {self.chunk_steps} steps did not finish within {self.chunk_allow:g} s "
                    f"({self.stall:g} s + {STALL_STEP_S:g} s a step) while processes kept "
                    f"computing without advancing (busy: {busy})")
        return (f"{where}: {what}; the run was stopped and its processes and shared memory "
                f"cleaned up (the limit is stall_timeout={self.stall:g} s: pass "
                f"stall_timeout= / --stall-timeout, or set LOIHI_SNN_STALL_TIMEOUT)")

    # ------------------------------------------------------------------ watchdog
    def watch(self) -> None:
        deadline = None if self.timeout is None else self.t0 + float(self.timeout)
        own: dict = {}          # id(actor) -> our duplicate of its sentinel (an fd)
        while True:
            ended = False
            if self.phase == "running":
                for a in self.actors():
                    if getattr(a, "_is_done", False):
                        ended = True        # Lava's main thread joined it: it has ended
                    elif id(a) not in own:
                        try:
                            own[id(a)] = os.dup(a.sentinel)
                        except Exception:  # noqa: BLE001 - closed by Lava's own join
                            ended = True
            sentinels = list(own.values()) if self.phase == "running" else []
            try:
                ready = _wait_ready([self.conn, *sentinels], timeout=POLL_S)
            except (OSError, ValueError):
                ready = []
            if self.conn in ready:
                try:
                    msg = self.conn.recv()
                except (EOFError, OSError):
                    msg = "parent-gone"
                if msg in ("abort", "parent-gone"):
                    self.abort("interrupted" if msg == "abort" else "parent-gone")
            if self.phase == "running" and (ended or any(s in ready for s in sentinels)):
                self.abort("model")
            now = time.monotonic()
            if self.phase == "running" and deadline is not None and now > deadline:
                self.abort("timeout")
            if self.phase == "running":
                self.check_stall(now)
            if self.phase == "stopping" and self.stop_deadline is not None \
                    and now > self.stop_deadline:
                self.abort("stop-timeout")


def _peek_message(actor) -> Tuple[bool, Any]:
    """``(True, message)`` when the actor's exception pipe holds its one message (an
    ``(exception, traceback)`` pair, or None for a clean exit), else ``(False, None)``.

    The message is *peeked* (``MSG_PEEK`` on a duplicate of the pipe's socket), never
    received: Lava's own main thread may receive it at any moment, and two threads
    receiving from one connection can split its frame between them and block both
    forever.  (``multiprocessing.Pipe()`` is a socket pair on POSIX; a frame is a 4-byte
    big-endian length and the pickled object.)
    """
    try:
        fd = os.dup(actor._pconn.fileno())
    except Exception:  # noqa: BLE001 - closed by Lava's own join
        return False, None
    try:
        with socket.socket(fileno=fd) as sock:
            sock.setblocking(False)
            end = time.monotonic() + EXC_READ_S
            head = b""
            while True:
                try:
                    head = sock.recv(1 << 16, socket.MSG_PEEK)
                except BlockingIOError:
                    return False, None              # nothing sent (yet)
                if len(head) >= 4:
                    size = struct.unpack("!i", head[:4])[0]
                    if size >= 0 and len(head) >= 4 + size:
                        return True, pickle.loads(head[4:4 + size])
                    if size < 0:        # a frame over 2 GiB: not an exception
                        return False, None
                if not head or time.monotonic() > end:
                    return False, None
                time.sleep(POLL_S / 10)            # the rest of the frame is on its way
    except Exception:  # noqa: BLE001 - not a socket, or an unreadable message
        return False, None


def _actor_exception(actor) -> Any:
    """``(exception, traceback)`` of a Lava actor that raised, else None; never blocks
    for more than about ``EXC_READ_S + TERM_GRACE_S`` seconds.

    Lava's ``SystemProcess`` sends one message through a pipe (the exception, or None)
    before its process ends; Lava's main thread may receive it (``join()`` after an
    error) and stores it in ``actor._exception``.  This function only peeks at the pipe
    (:func:`_peek_message`) and otherwise waits for the value Lava's reader stores, so
    it never competes with that reader.
    """
    end = time.monotonic() + TERM_GRACE_S
    first = True
    while True:
        if getattr(actor, "_is_done", False) or getattr(actor, "_exception", None):
            return getattr(actor, "_exception", None)
        found, message = _peek_message(actor)
        if found:
            return message
        if first:
            try:
                alive = actor.is_alive()
            except Exception:  # noqa: BLE001 - closed by Lava's own join
                alive = False
            if alive:
                return None          # a running actor with nothing to report (yet)
            first = False
        if time.monotonic() > end:
            return getattr(actor, "_exception", None)
        time.sleep(POLL_S)   # Lava's reader has the message: wait for what it stores


def _stat_fields(pid) -> Optional[List[str]]:
    """The fields of ``/proc/<pid>/stat`` after the command name (field 3, the state,
    first), or None (no such process, not Linux)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().decode("ascii", "replace").rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def _cpu_ticks(pid: int) -> Optional[int]:
    """User + system CPU time of process ``pid`` in clock ticks (Linux /proc), or None."""
    rest = _stat_fields(pid)
    try:
        return None if rest is None else int(rest[11]) + int(rest[12])
    except (IndexError, ValueError):
        return None


def _last_frame(tb: str) -> str:
    """'file.py:LINE in func' of the innermost frame of a formatted traceback."""
    last = ""
    for line in str(tb).splitlines():
        line = line.strip()
        if line.startswith('File "'):
            try:
                fname = line.split('"')[1]
                rest = line.split('"', 2)[2]            # , line N, in func
                parts = [p.strip() for p in rest.split(",") if p.strip()]
                lineno = parts[0].replace("line", "").strip()
                func = parts[1].replace("in", "", 1).strip() if len(parts) > 1 else "?"
                last = f"{os.path.basename(fname)}:{lineno} in {func}"
            except (IndexError, ValueError):
                continue
    return last


def _runner_main(conn, other_end, source, read_out: Callable[[], Any], chunks: List[int],
                 run_cfg, timeout: Optional[float], what: str,
                 status: Optional[Callable[[], int]] = None, target: Optional[int] = None,
                 stall: float = STALL_TIMEOUT_S, backend: str = "lava") -> None:
    """Body of the runner process (see the module docstring)."""
    from lava.magma.core.run_conditions import RunSteps  # lazy: Lava is heavy
    other_end.close()               # so that the parent's exit reads as EOF here
    try:
        os.setpgid(0, 0)            # Ctrl-C goes to the caller only; group kill as last resort
    except OSError:
        pass
    runner = _Runner(conn, source, timeout, sum(chunks), what, stall=stall, backend=backend)
    threading.Thread(target=runner.watch, name="loihi-snn-watchdog", daemon=True).start()
    try:
        for i, n in enumerate(chunks):
            runner.begin_chunk(int(n), first=(i == 0))
            source.run(condition=RunSteps(num_steps=int(n)), run_cfg=run_cfg)
            runner.end_chunk(int(n))
            runner.send(("progress", int(n)))
            if status is not None:
                value = int(status())
                runner.send(("status", value))
                if target is not None and value >= target:
                    break
        runner.result = (read_out(), runner.steps_done)
    except BaseException as exc:  # noqa: BLE001 - reported to the parent
        runner.abort("error", exc)
    runner.stop_deadline = time.monotonic() + STOP_GRACE_S
    runner.phase = "stopping"
    stopped = False
    try:
        source.stop()
        stopped = True
    except BaseException:  # noqa: BLE001 - a failed stop is forced below
        pass
    finally:
        if not stopped:
            runner.abort("stop-timeout")
    with runner._end_lock:
        runner.send(("ok", runner.result))
        runner.exit()


def _proc_table() -> dict:
    """pid -> (ppid, pgrp) of every process (Linux /proc; empty elsewhere)."""
    table = {}
    try:
        entries = os.listdir("/proc")
    except OSError:
        return table
    for e in entries:
        if not e.isdigit():
            continue
        rest = _stat_fields(e)
        try:
            table[int(e)] = (int(rest[1]), int(rest[2]))
        except (TypeError, IndexError, ValueError):
            continue
    return table


def _kill_runner(proc) -> None:
    """Last resort: SIGKILL the runner, its descendants and its process group.

    Only processes that are surely ours are signalled: the runner and its descendants
    while the runner is not reaped (its PID cannot have been reused), and members of
    its process group unless a new process has taken the runner's PID (then the group
    number may belong to someone else).
    """
    pid = proc.pid
    if pid is None:
        return
    alive = proc.exitcode is None            # not reaped yet: pid and group are ours
    table = _proc_table()
    victims = set()
    if alive:
        victims.add(pid)
        children: dict = {}
        for p, (ppid, _) in table.items():
            children.setdefault(ppid, []).append(p)
        todo = [pid]
        while todo:
            for c in children.get(todo.pop(), []):
                victims.add(c)
                todo.append(c)
    if alive or pid not in table:
        victims |= {p for p, (_, pgrp) in table.items() if pgrp == pid}
    victims.discard(os.getpid())
    for v in victims:
        try:
            os.kill(v, signal.SIGKILL)
        except (OSError, ProcessLookupError):
            pass
    proc.join(TERM_GRACE_S)


def resolve_stall_timeout(value: Optional[float] = None) -> float:
    """The stall deadline in seconds: ``value`` when given (a positive number, else
    OptionError), else ``$LOIHI_SNN_STALL_TIMEOUT``, else :data:`STALL_TIMEOUT_S`."""
    if value is None:
        return env_seconds("LOIHI_SNN_STALL_TIMEOUT", STALL_TIMEOUT_S)
    return check_seconds(value, "stall_timeout")


def check_seconds(value: Any, name: str) -> float:
    """``value`` as a positive, finite number of seconds, else a one-line OptionError
    naming ``name`` (the check of ``timeout`` and ``stall_timeout`` alike)."""
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        seconds = float("nan")
    if isinstance(value, bool) or not (seconds > 0 and seconds != float("inf")):
        raise OptionError(f"{name} must be a positive number of seconds, got {value!r}")
    return seconds


def run_supervised(source, read_out: Callable[[], Any], chunks: Sequence[int], run_cfg, *,
                   timeout: Optional[float] = None, what: str = "network",
                   on_progress: Optional[Callable[[int], None]] = None,
                   status: Optional[Callable[[], int]] = None, target: Optional[int] = None,
                   on_status: Optional[Callable[[int], None]] = None,
                   return_steps: bool = False, stall_timeout: Optional[float] = None,
                   backend: str = "lava") -> Any:
    """Run ``source``'s Lava process graph in a supervised child process.

    Parameters
    ----------
    source : lava AbstractProcess
        any process of a graph that has not been run (its runtime runs the graph).  If
        it has a ``max_steps`` attribute (e.g. ``FusedRun``), a run of more steps is
        refused with a RunError before anything starts.
    read_out : callable
        called in the runner after the last chunk, e.g. ``sink.data.get``; its
        (picklable) return value is what this function returns.
    chunks : sequence of int
        numbers of time steps of the successive ``RunSteps`` calls (progress and the
        step count in a timeout message have this granularity).
    run_cfg : lava RunConfig
    timeout : float, optional
        wall-clock seconds for the whole Lava part (compile, run, read-out); None
        waits for as long as the run makes progress (a failed model still ends it).
    what : str
        name of the network in messages (usually its file).
    on_progress : callable, optional
        called in the caller's process with the number of steps of each finished chunk.
    status : callable, optional
        evaluated in the runner after every chunk (e.g. the number of samples a
        controller has decided); its int value goes to ``on_status`` in the caller.
    target : int, optional
        with ``status``: end the run early (read out, stop) once ``status() >= target``.
    return_steps : bool
        return ``(result, steps_run)`` instead of the result alone.
    stall_timeout : float, optional
        seconds without progress that end the run as stalled (module docstring);
        default ``$LOIHI_SNN_STALL_TIMEOUT`` or :data:`STALL_TIMEOUT_S`.
    backend : str
        backend name for messages.

    Raises
    ------
    RunError
        one line: a process model raised (its exception type, message and source
        line), a model process died, the run timed out (``exc.timed_out`` is True)
        the run stalled (``exc.stalled`` is True) or the runner died.
        ``exc.steps_completed`` and ``exc.total_steps`` say how
        far it got (chunk granularity).  Every Lava process of the run is gone and
        its shared memory unlinked when this is raised.
    """
    if timeout is not None:
        timeout = float(timeout)
        if not timeout > 0:
            raise ValueError(f"timeout must be a positive number of seconds, got {timeout}")
    stall = resolve_stall_timeout(stall_timeout)
    chunks = [int(n) for n in chunks if int(n) > 0]
    total = sum(chunks)
    capacity = getattr(source, "max_steps", None)
    if capacity is not None and total > int(capacity):
        # refused before any Lava process exists: a model that raises mid-run under
        # AsyncProtocol is reported by Lava only after a race, so do not get that far
        err = RunError(f"{type(source).__name__} of {what} was built for {int(capacity)} "
                       f"steps; running {total} would exceed it (pass steps= when you "
                       f"build it)")
        err.timed_out, err.stalled, err.steps_completed, err.total_steps = False, False, 0, total
        raise err
    ctx = mp.get_context("fork")        # Lava itself forks every model process
    parent, child = ctx.Pipe(duplex=True)
    proc = ctx.Process(target=_runner_main, name="loihi-snn-lava-runner",
                       args=(child, parent, source, read_out, chunks, run_cfg, timeout, what,
                             status, target, stall, backend))
    proc.start()
    global last_runner_pid
    last_runner_pid = proc.pid
    child.close()
    done = 0
    t0 = time.monotonic()
    hard_deadline = None if timeout is None else t0 + timeout + CLEANUP_GRACE_S
    # backstop for a runner whose own watchdog cannot act: the chunk's allowance plus
    # the stall time and the cleanup grace; before the first chunk, the start allowance
    chunk_deadline = t0 + STALL_START_S + stall + CLEANUP_GRACE_S

    def error(message: str, timed_out: bool = False, stalled: bool = False) -> RunError:
        err = RunError(_one_line(message, limit=600))
        err.timed_out = timed_out
        err.stalled = stalled
        err.steps_completed = done
        err.total_steps = total
        return err

    try:
        while True:
            if hard_deadline is not None and time.monotonic() > hard_deadline:
                _kill_runner(proc)
                raise error(f"Lava run of {what} timed out after {timeout:g} s with {done} "
                            f"of {total} steps completed; its processes did not stop and "
                            f"were killed", timed_out=True)
            if time.monotonic() > chunk_deadline:
                _kill_runner(proc)
                raise error(f"Lava run of {what} on backend '{backend}' stalled with {done} "
                            f"of {total} steps completed and its supervisor did not answer; "
                            f"its processes were killed (stall_timeout={stall:g} s: pass "
                            f"stall_timeout= / --stall-timeout, or set "
                            f"LOIHI_SNN_STALL_TIMEOUT)", stalled=True)
            if parent.poll(POLL_S):
                try:
                    msg = parent.recv()
                except (EOFError, OSError):
                    msg = None
                if msg is None:
                    proc.join(TERM_GRACE_S)
                    _kill_runner(proc)          # its model processes must not outlive it
                    raise error(f"Lava run of {what} failed: the process running Lava "
                                f"exited unexpectedly (exit code {proc.exitcode}) with "
                                f"{done} of {total} steps completed")
                if msg[0] == "chunk":
                    chunk_deadline = time.monotonic() + msg[1] + stall + CLEANUP_GRACE_S
                elif msg[0] == "progress":     # next: a chunk, or read-out and stop
                    chunk_deadline = time.monotonic() + stall + STOP_GRACE_S + CLEANUP_GRACE_S
                    done += msg[1]
                    if on_progress is not None:
                        on_progress(msg[1])
                elif msg[0] == "status":
                    if on_status is not None:
                        on_status(msg[1])
                elif msg[0] == "ok":
                    result, steps_run = msg[1]
                    return (result, steps_run) if return_steps else result
                elif msg[0] == "error":
                    _, kind, message, done, _total = msg
                    if kind == "interrupted":
                        raise KeyboardInterrupt(message)
                    raise error(message, timed_out=(kind == "timeout"),
                                stalled=(kind == "stall"))
            elif not proc.is_alive() and not parent.poll(0):
                _kill_runner(proc)              # its model processes must not outlive it
                raise error(f"Lava run of {what} failed: the process running Lava exited "
                            f"unexpectedly (exit code {proc.exitcode}) with {done} of "
                            f"{total} steps completed")
    except KeyboardInterrupt:
        try:                              # ask the runner to clean up, then wait for it
            parent.send("abort")
            end = time.monotonic() + CLEANUP_GRACE_S
            while proc.is_alive() and time.monotonic() < end:
                proc.join(POLL_S)
        except (OSError, ValueError):
            pass
        raise
    finally:
        parent.close()
        proc.join(CLEANUP_GRACE_S)
        if proc.is_alive():
            _kill_runner(proc)
