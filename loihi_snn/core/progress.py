"""Progress of a long run on stderr: a bar on a terminal, plain lines elsewhere.

On a terminal :class:`Progress` draws a tqdm bar.  When stderr is not a terminal (a log
file, a pipe, CI) a bar's carriage returns would garble the log, so it prints plain
lines instead: one when the run starts, one every :data:`LINE_EVERY_S` seconds while it
runs and one when it ends::

    lava+cutoff digits.net: 0/359 samples (0%), 0 s
    lava+cutoff digits.net: 120/359 samples (33%), 5 s, 24 samples/s
    lava+cutoff digits.net: 359/359 samples (100%), 7 s, 51.3 samples/s

Disabled, it prints nothing.
"""
from __future__ import annotations

import sys
import time
from typing import Optional

#: seconds between two plain progress lines when stderr is not a terminal
LINE_EVERY_S = 5.0


def stderr_is_terminal() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):       # replaced or closed stderr
        return False


class Progress:
    """Progress of ``total`` ``unit``s, named ``desc``; ``update(n)`` adds ``n`` done.

    ``enabled`` False: nothing is shown.  Otherwise a tqdm bar when stderr is a
    terminal, else a plain line every ``every`` seconds (see the module docstring).
    """

    def __init__(self, total: int, unit: str, desc: str, enabled: bool = True,
                 every: float = LINE_EVERY_S) -> None:
        self.total, self.unit, self.desc = int(total), unit, desc
        self.n = 0
        self.bar = None
        self.lines = bool(enabled) and not stderr_is_terminal()
        self.every = float(every)
        self.t0 = self.last = time.monotonic()
        if enabled and not self.lines:
            from tqdm.auto import tqdm
            self.bar = tqdm(total=self.total, unit=unit, desc=desc)
        elif self.lines:
            self._line(self.t0)

    def update(self, n: int) -> None:
        n = int(n)
        self.n += n
        if self.bar is not None:
            self.bar.update(n)
        elif self.lines:
            now = time.monotonic()
            if now - self.last >= self.every:
                self.last = now
                self._line(now)

    def _line(self, now: float) -> None:
        pct = f" ({100 * self.n / self.total:.0f}%)" if self.total > 0 else ""
        spent = now - self.t0
        rate = f", {self.n / spent:.3g} {self.unit}s/s" if self.n and spent > 0 else ""
        print(f"{self.desc}: {min(self.n, self.total)}/{self.total} {self.unit}s{pct}, "
              f"{spent:.0f} s{rate}", file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
        elif self.lines:
            if sys.exc_info()[0] is None:     # (a run that failed ends in its error line)
                self._line(time.monotonic())
            self.lines = False


def want_progress(progress: Optional[bool], big: bool) -> bool:
    """Whether to show progress: ``progress`` when given, else for a ``big`` run (a bar
    on a terminal, plain lines otherwise)."""
    return bool(big) if progress is None else bool(progress)
