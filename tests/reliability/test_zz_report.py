"""Not a check: the faults the reliability suite tried in this session, with the records
expected (messages the server answered, or planned) and found (``-s`` shows it)."""

from __future__ import annotations

from tests.reliability import test_dead_server, test_faults, test_server_limits, test_stops


def test_zz_fault_table():
    rows = {**test_stops.FAULTS_SEEN, **test_dead_server.FAULTS_SEEN}
    lines = [f"{'fault':<58} {'expected':>9} {'found':>9}"]
    lines += [f"{fault:<58} {expected:>9} {found:>9}" for fault, (expected, found) in rows.items()]
    lines += [f"server fault runs ({', '.join(sorted(test_faults.FAULT_CASES_RUN))})"]
    lines += [f"server limit, {name}: {text}" for name, text in test_server_limits.RESULTS.items()]
    print("\n" + "\n".join(lines))
