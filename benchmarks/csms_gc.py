"""Time the garbage collector takes inside ``ocppkit csms``: runs the command with a
``gc.callbacks`` timer (thread CPU time of every collection, per thread and generation) and,
on exit (SIGINT / SIGTERM), prints the collections, their CPU time and the process's total CPU.

    python benchmarks/csms_gc.py [--young N] -- csms --port 9000 --no-api --log-keep 0 --db F

Run the shared load against it meanwhile (``loadgen.py --conns 50 --duration 0 --calls
100000``) and divide by the calls. ``--young N`` sets the young generation's threshold before
the command starts (``server_gc`` sets its own once the CSMS serves: give ``--young`` to see
what a threshold does only with a build whose ``run_csms`` leaves it alone).
"""

from __future__ import annotations

import argparse
import atexit
import gc
import sys
import threading
import time
from collections import Counter, defaultdict
from typing import Any

from ocppkit.cli import main as ocppkit_main


def install_timer() -> None:
    """Record each collection's thread CPU time; print the totals at exit."""
    started: dict[int, float] = {}
    seconds: defaultdict[tuple[str, int], float] = defaultdict(float)
    counts: Counter[tuple[str, int]] = Counter()

    def timer(phase: str, info: dict[str, Any]) -> None:
        ident = threading.get_ident()
        if phase == "start":
            started[ident] = time.thread_time()
            return
        key = (threading.current_thread().name, info["generation"])
        seconds[key] += time.thread_time() - started.pop(ident, time.thread_time())
        counts[key] += 1

    def report() -> None:
        for (thread, generation), total in sorted(seconds.items()):
            print(
                f"{thread} generation {generation}: {counts[thread, generation]} collections, "
                f"{total * 1e3:.1f} ms",
                file=sys.stderr,
            )
        print(f"process CPU {time.process_time():.3f} s", file=sys.stderr)

    gc.callbacks.append(timer)
    atexit.register(report)


def main() -> None:
    """Parse ``[--young N] -- ocppkit arguments``, then run ``ocppkit`` with the timer."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--young", type=int, help="young-generation threshold to start with")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- ocppkit arguments")
    args = parser.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if args.young is not None:
        gc.set_threshold(args.young, *gc.get_threshold()[1:])
    install_timer()
    sys.argv = ["ocppkit", *command]
    ocppkit_main()


if __name__ == "__main__":
    main()
