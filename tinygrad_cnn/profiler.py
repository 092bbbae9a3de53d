"""`profile`: time every op's forward and backward inside a block and show where the time went,
one row per op type and phase."""

from __future__ import annotations

from time import perf_counter
from typing import NamedTuple

from tinygrad_cnn import function


class ProfileRow(NamedTuple):
    """One op type in one phase: op name, "forward" or "backward", calls, total seconds."""

    op: str
    phase: str
    calls: int
    seconds: float


class profile:
    """Time each op's forward and backward inside the block; on exit print one row per (op,
    phase), slowest first, and a total row that is the sum of the rows.

    `with tc.profile() as prof: ...`, then `prof.rows` (a list of `ProfileRow(op, phase, calls,
    seconds)`, slowest first), `prof.total` (seconds, the sum of the rows), `prof.wall` (seconds
    the whole block took) and `prof.table()` (the printed table, which `str(prof)` and
    `print(prof)` also give). `print_table=False` prints nothing. Forward time is the op's
    `forward()`; backward time is its `backward()` only. Graph building, the topological sort,
    the engine's checks of the gradients a backward returns, gradient accumulation and code
    outside the ops are in `wall` but in no row. An op whose backward never ran (its inputs
    need no grad, or under no_grad) has a forward row only. An op called from inside another
    op (a backward rule's ops under create_graph=True) has rows of its own, and its time is
    left out of the caller's row, so no time is counted twice. One profile at a time: entering
    one while another is active raises ValueError; entering the same object again starts a
    fresh record.
    """

    def __init__(self, print_table: bool = True):
        self.print_table = print_table
        self._records: dict[tuple[str, str], list] = {}    # (op, phase) -> [calls, seconds]
        self._start: float | None = None                    # perf_counter() at entry, if active
        self._wall = 0.0
        self._inner: list[float] = []       # per running op: seconds of the ops it has called

    def __enter__(self) -> profile:
        if function._profiler is not None:
            raise ValueError("profile: a profile() block is already active; expected one at a "
                             "time (profiles do not nest); profile the outer block only, or end "
                             "it before starting another")
        self._records, self._wall, self._inner = {}, 0.0, []
        self._start = perf_counter()
        function._profiler = self
        return self

    def __exit__(self, exc_type, exc_value, traceback) -> None:
        function._profiler = None
        self._wall = perf_counter() - self._start
        self._start = None
        if exc_type is None and self.print_table:
            print(self.table())

    def _timed(self, op: str, phase: str, func, /, *args, **kwargs):
        """func(*args, **kwargs), with its run time added to the (op, phase) record, less the time
        of the ops it calls (they have records of their own); the engine calls this for every
        forward and backward while the profile is active. A call that raises is not recorded."""
        self._inner.append(0.0)
        start = perf_counter()
        try:
            result = func(*args, **kwargs)
        finally:
            seconds = perf_counter() - start
            inner = self._inner.pop()
        if self._inner:                     # called from inside another op: not its time
            self._inner[-1] += seconds
        record = self._records.get((op, phase))
        if record is None:
            self._records[op, phase] = [1, seconds - inner]
        else:
            record[0] += 1
            record[1] += seconds - inner
        return result

    @property
    def rows(self) -> list[ProfileRow]:
        """One ProfileRow(op, phase, calls, seconds) per op type and phase, slowest first."""
        rows = [ProfileRow(op, phase, calls, seconds)
                for (op, phase), (calls, seconds) in self._records.items()]
        return sorted(rows, key=lambda row: (-row.seconds, row.op, row.phase))

    @property
    def total(self) -> float:
        """Seconds spent in the ops' forward and backward: the sum of the rows."""
        return sum(row.seconds for row in self.rows)

    @property
    def wall(self) -> float:
        """Seconds the block took (so far, while it runs), ops and everything else."""
        return self._wall if self._start is None else perf_counter() - self._start

    def table(self) -> str:
        """The rows as a text table: op, phase, calls, total ms, mean µs, % of total, then the
        total row and the block's wall time."""
        rows, total, wall = self.rows, self.total, self.wall
        width = max([len("total")] + [len(row.op) for row in rows])
        lines = [f"{'op':<{width}}  {'phase':<8}  {'calls':>6}  {'total ms':>10}  "
                 f"{'mean µs':>10}  {'% of total':>10}"]
        for row in rows:
            share = 100 * row.seconds / total if total > 0 else 0.0
            lines.append(f"{row.op:<{width}}  {row.phase:<8}  {row.calls:>6}  "
                         f"{row.seconds * 1e3:>10.3f}  {row.seconds * 1e6 / row.calls:>10.1f}  "
                         f"{share:>10.1f}")
        calls = sum(row.calls for row in rows)
        lines.append(f"{'total':<{width}}  {'':<8}  {calls:>6}  {total * 1e3:>10.3f}  "
                     f"{'':>10}  {100.0 if total > 0 else 0.0:>10.1f}")
        in_ops = 100 * total / wall if wall > 0 else 0.0
        lines.append(f"wall time of the block {wall * 1e3:.3f} ms, {in_ops:.1f}% of it in these "
                     f"ops (the rest: engine and other code)")
        return "\n".join(lines)

    def __str__(self) -> str:
        """The table, so `print(prof)` shows it."""
        return self.table()
