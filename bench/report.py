"""The results table: chatapi next to the baseline (or the bare database), with ratios and
the targets of issue 7 (goals, not pass/fail tests)."""

from __future__ import annotations

from typing import Any


def _get(d: Any, *path: Any) -> Any:
    for key in path:
        if d is None:
            return None
        d = d.get(key) if isinstance(d, dict) else None
    return d


def _n(v: Any, digits: int = 1) -> str:
    if v is None:
        return "-"
    if isinstance(v, str):
        return v
    if abs(v) >= 100:
        return f"{v:,.0f}"
    if abs(v) >= 10:
        return f"{v:.1f}"
    return f"{v:.{digits}f}"


def _ratio(a: Any, b: Any) -> str:
    if a is None or b is None or not b:
        return "-"
    return f"{a / b:.2f}x"


def _mark(ok: bool | None) -> str:
    return "-" if ok is None else ("met" if ok else "MISSED")


Row = tuple[str, str, str, str, str, str, str, str]


def _fanout_rows(s: dict[str, Any]) -> list[Row]:
    rows: list[Row] = []
    base = s.get("baseline", {})
    lite, pg = s.get("chatapi-sqlite") or s.get("chatapi-url") or {}, s.get("chatapi-postgres", {})
    b_best = _get(base, "ramp", "best", "deliveries_per_s")
    l_best = _get(lite, "ramp", "best", "deliveries_per_s")
    p_best = _get(pg, "ramp", "best", "deliveries_per_s")
    worst = min((v for v in (l_best, p_best) if v is not None), default=None)
    capped = ">= " if _get(base, "ramp", "capped") else ""
    rows.append(
        (
            "1 fan-out",
            "max sustained deliveries/s (p99<100ms, 0 lost)",
            _n(l_best),
            _n(p_best),
            capped + _n(b_best),
            f"{_ratio(l_best, b_best)} / {_ratio(p_best, b_best)}",
            ">= 0.5x",
            _mark(None if worst is None or not b_best else worst >= 0.5 * b_best),
        )
    )
    sio = s.get("socketio")
    if sio:
        s_best = _get(sio, "ramp", "best", "deliveries_per_s")
        rows.append(
            (
                "1 fan-out",
                "max sustained deliveries/s vs python-socketio, same rooms "
                f"(socketio/bare {_ratio(s_best, b_best)})",
                _n(l_best),
                _n(p_best),
                f"socketio: {_n(s_best)}",
                f"{_ratio(l_best, s_best)} / {_ratio(p_best, s_best)}",
                ">= 3x socketio",
                _mark(None if worst is None or not s_best else worst >= 3 * s_best),
            )
        )
    for q, factor in (("p50_ms", 2), ("p99_ms", 3)):
        b = _get(base, "fixed", q)
        lv, pv = _get(lite, "fixed", q), _get(pg, "fixed", q)
        worst_v = max((v for v in (lv, pv) if v is not None), default=None)
        rows.append(
            (
                "1 fan-out",
                f"{q[:3]} ms at 2,000 deliveries/s",
                _n(lv, 2),
                _n(pv, 2),
                _n(b, 2),
                f"{_ratio(lv, b)} / {_ratio(pv, b)}",
                f"<= {factor}x",
                _mark(None if worst_v is None or not b else worst_v <= factor * b),
            )
        )
    for label, d in (("SQLite", lite), ("PostgreSQL", pg)):
        o = d.get("overload")
        if not o:
            continue
        late = o.get("late", o["lost"])
        never = o.get("never_arrived")
        # Every delivery is accounted for: arrived (maybe late), refused, or to a closed socket.
        counted = not never or o["closes"] > 0
        overloaded = o.get("refused_overloaded", 0)
        others = {k: v for k, v in o["errors"].items() if k != "overloaded"}
        other = ", other errors " + ", ".join(f"{v} {k}" for k, v in others.items())
        rss = sum(o.get("server_rss_mb") or [0]) - sum(o.get("server_rss0_mb") or [0])
        rows.append(
            (
                "1 fan-out",
                f"overload {label} at 1.25x ({_n(o['offered'])}/s): p99 ms; lost/refused/closed",
                _n(o["p99_ms"]) if label == "SQLite" else "",
                _n(o["p99_ms"]) if label != "SQLite" else "",
                "",
                f"late {late} (never arrived {'?' if never is None else never}), "
                f"refused {overloaded} (overloaded){other if others else ''}, "
                f"closed {o['closes']}, RSS {rss:+.1f} MiB",
                "p99 < 1 s, drops counted",
                _mark(o["p99_ms"] is not None and o["p99_ms"] < 1000 and counted),
            )
        )
    return rows


def _idle_rows(s: dict[str, Any]) -> list[Row]:
    base, lite = s.get("baseline", {}), s.get("chatapi-sqlite") or s.get("chatapi-url") or {}
    n = _get(lite, "sockets") or _get(base, "sockets")
    b_rate, l_rate = _get(base, "connects_per_s"), _get(lite, "connects_per_s")
    b_kib, l_kib = _get(base, "kib_per_socket"), _get(lite, "kib_per_socket")
    return [
        (
            "2 idle",
            f"connect rate, sockets/s ({_n(n)} sockets)",
            _n(l_rate),
            "",
            _n(b_rate),
            _ratio(l_rate, b_rate),
            ">= 0.75x",
            _mark(None if l_rate is None or not b_rate else l_rate >= 0.75 * b_rate),
        ),
        (
            "2 idle",
            "server RSS per idle socket, KiB",
            _n(l_kib),
            "",
            _n(b_kib),
            _ratio(l_kib, b_kib),
            "<= 40 KiB",
            _mark(None if l_kib is None else l_kib <= 40),
        ),
    ]


def _persist_rows(s: dict[str, Any]) -> list[Row]:
    base, pg = s.get("baseline", {}), s.get("chatapi-postgres", {})
    lite = s.get("chatapi-sqlite") or s.get("chatapi-url") or {}
    lv, pv, bv = _get(lite, "msgs_per_s"), _get(pg, "msgs_per_s"), _get(base, "msgs_per_s")
    ld, pd = _get(lite, "bare_db", "tx_per_s"), _get(pg, "bare_db", "tx_per_s")
    worst = min((v for v in (lv, pv) if v is not None), default=None)
    return [
        (
            "3 persistence",
            "msg/s committed, send->ack (200 closed-loop senders)",
            _n(lv),
            _n(pv),
            _n(bv),
            f"{_ratio(lv, bv)} / {_ratio(pv, bv)}",
            ">= 5,000 msg/s",
            _mark(None if worst is None else worst >= 5000),
        ),
        (
            "3 persistence",
            "ack p50 / p99 ms",
            f"{_n(_get(lite, 'ack_p50_ms'))} / {_n(_get(lite, 'ack_p99_ms'))}",
            f"{_n(_get(pg, 'ack_p50_ms'))} / {_n(_get(pg, 'ack_p99_ms'))}",
            f"{_n(_get(base, 'ack_p50_ms'))} / {_n(_get(base, 'ack_p99_ms'))}",
            "",
            "",
            "-",
        ),
        _persist_fixed_row(base, lite, pg),
        (
            "3 persistence",
            "bare DB: the same transaction via the driver, tx/s",
            _n(ld),
            _n(pd),
            "",
            f"chatapi/bare {_ratio(lv, ld)} / {_ratio(pv, pd)}",
            "",
            "-",
        ),
    ]


def _persist_fixed_row(base: Any, lite: Any, pg: Any) -> Row:
    """Ack latency at a fixed 4,000 msg/s: met when p99 < 100 ms and every send was
    acknowledged (none refused, none unanswered) at >= 95 % of the offered rate."""

    def cell(d: Any) -> str:
        f = _get(d, "fixed")
        if not f:
            return ""
        out = f"{_n(f['ack_p50_ms'], 2)} / {_n(f['ack_p99_ms'], 2)} ({_n(f['acks_per_s'])}/s)"
        if f.get("refused_overloaded"):
            out += f", refused {f['refused_overloaded']:,} (overloaded)"
        others = sum(v for k, v in f["errors"].items() if k != "overloaded")
        if others:
            out += f", {others:,} other errors"
        if f.get("unanswered"):
            out += f", {f['unanswered']:,} unanswered"
        return out

    def ok(d: Any) -> bool | None:
        f = _get(d, "fixed")
        if not f or f["ack_p99_ms"] is None:
            return None
        return bool(
            f["ack_p99_ms"] < 100
            and not f["errors"]
            and not f["unanswered"]
            and f["acks_per_s"] >= 0.95 * f["offered_msgs_per_s"]
        )

    marks = [m for m in (ok(lite), ok(pg)) if m is not None]
    rate = _get(lite, "fixed", "offered_msgs_per_s") or _get(pg, "fixed", "offered_msgs_per_s")
    return (
        "3 persistence",
        f"ack p50 / p99 ms (acked/s) at a fixed {_n(rate)} msg/s (80 % of 5,000)",
        cell(lite),
        cell(pg),
        cell(base),
        "",
        "p99 < 100 ms, all acked",
        _mark(all(marks) if marks else None),
    )


def _history_rows(s: dict[str, Any]) -> list[Row]:
    lite, pg = s.get("chatapi-sqlite", {}), s.get("chatapi-postgres", {})
    rows: list[Row] = []
    rows_n = _get(lite, "rows") or _get(pg, "rows")
    for key, label in (
        ("history", "history page (random before_seq)"),
        ("latest", "latest history page"),
        ("events", "events catch-up (random after_seq)"),
    ):
        l50, l99 = _get(lite, key, "p50_ms"), _get(lite, key, "p99_ms")
        p50, p99 = _get(pg, key, "p50_ms"), _get(pg, key, "p99_ms")
        bare_key = "events" if key == "events" else "history"
        b_l = _get(lite, "bare_db", bare_key, "p99_ms")
        b_p = _get(pg, "bare_db", bare_key, "p99_ms")
        worst = max((v for v in (l99, p99) if v is not None), default=None)
        rows.append(
            (
                "4 history",
                f"{label}, p50 / p99 ms, {_n(rows_n)} msgs",
                f"{_n(l50, 2)} / {_n(l99, 2)}",
                f"{_n(p50, 2)} / {_n(p99, 2)}",
                f"bare DB p99 {_n(b_l, 2)} / {_n(b_p, 2)}",
                "",
                "p99 < 10 ms",
                _mark(None if worst is None else worst < 10),
            )
        )
    return rows


def _search_rows(s: dict[str, Any]) -> list[Row]:
    lite, pg = s.get("chatapi-sqlite", {}), s.get("chatapi-postgres", {})
    rows: list[Row] = []
    rows_n = _get(lite, "rows") or _get(pg, "rows")
    for key, label, target in (
        ("rare", "rare word (1 match)", 50.0),
        ("common", "common words (every message matches)", 50.0),
        ("next_page", "next page of common words", 50.0),
        ("in_conversation", "rare word in one conversation", 50.0),
        ("outsider", "common words, none readable (worst case)", None),
        ("floor", "GET /users/me, the floor in the same run", None),
    ):
        l50, l99 = _get(lite, key, "p50_ms"), _get(lite, key, "p99_ms")
        p50, p99 = _get(pg, key, "p50_ms"), _get(pg, key, "p99_ms")
        worst = max((v for v in (l99, p99) if v is not None), default=None)
        rows.append(
            (
                "8 search",
                f"{label}, p50 / p99 ms, {_n(rows_n)} msgs",
                f"{_n(l50, 2)} / {_n(l99, 2)}",
                f"{_n(p50, 2)} / {_n(p99, 2)}",
                "",
                "",
                "p99 < 50 ms" if target else "(measured)",
                _mark(None if worst is None or target is None else worst < target),
            )
        )
    return rows


def _twoinst_rows(s: dict[str, Any]) -> list[Row]:
    one, two = s.get("one", {}), s.get("two", {})
    if not one and not two:
        return []
    o_best, t_best = (
        _get(one, "ramp", "best", "deliveries_per_s"),
        _get(two, "ramp", "best", "deliveries_per_s"),
    )
    o99, t99 = _get(one, "fixed", "p99_ms"), _get(two, "fixed", "p99_ms")
    lost, closed_lost, closed = _lost_all_steps(two)
    lost_one = sum(_lost_all_steps(one)[:2])
    closes_note = f" (+{closed_lost:,} to {closed} sockets closed)" if closed else ""
    return [
        (
            "5 two instances",
            "max sustained deliveries/s: two processes vs one (PG+Redis)",
            "",
            _n(t_best),
            f"one: {_n(o_best)}",
            _ratio(t_best, o_best),
            "",
            "-",
        ),
        (
            "5 two instances",
            "p99 ms at 2,000 deliveries/s; deliveries that never arrived, every step",
            "",
            f"{_n(t99, 2)}; {lost:,} lost{closes_note}",
            f"one: {_n(o99, 2)}; {lost_one:,} lost",
            _ratio(t99, o99),
            "0 lost, p99 < 2x one",
            _mark(None if t99 is None or o99 is None else (t99 < 2 * o99 and lost == 0)),
        ),
    ]


def _lost_all_steps(d: dict[str, Any]) -> tuple[int, int, int]:
    """Deliveries that never arrived (not even after the drain) over the fixed step and
    every ramp step, retries and failing steps included (through Redis a delivery must not
    vanish, even past the sustainable rate): (in steps where no socket was closed, in steps
    where some were, sockets closed)."""
    steps = [_get(d, "fixed"), *(_get(d, "ramp", "steps") or [])]
    steps += [st.get("other_try") for st in steps if st]
    steps = [st for st in steps if st]
    lost = closed_lost = closed = 0
    for st in steps:
        never = st.get("never_arrived", st.get("lost")) or 0
        if st.get("closes"):
            closed_lost += never
            closed += st["closes"]
        else:
            lost += never
    return lost, closed_lost, closed


def _upload_rows(s: dict[str, Any]) -> list[Row]:
    base, lite = s.get("baseline", {}), s.get("chatapi-sqlite", {})
    if not base and not lite:
        return []
    mb = s.get("size_mb")
    return [
        (
            "6 uploads",
            f"{mb} MB streamed upload, MiB/s",
            _n(_get(lite, "upload_mib_s")),
            "",
            _n(_get(base, "upload_mib_s")),
            _ratio(_get(lite, "upload_mib_s"), _get(base, "upload_mib_s")),
            "",
            "-",
        ),
        (
            "6 uploads",
            "server peak RSS during upload (before), MiB",
            f"{_n(_get(lite, 'peak_rss_upload_mib'))} ({_n(_get(lite, 'rss_before_mib'))})",
            "",
            f"{_n(_get(base, 'peak_rss_upload_mib'))} ({_n(_get(base, 'rss_before_mib'))})",
            "",
            "flat (streamed)",
            "-",
        ),
    ]


def _stalled_rows(s: dict[str, Any]) -> list[Row]:
    none, stalled = s.get("none", {}), s.get("stalled", {})
    if not none and not stalled:
        return []
    n = stalled.get("stalled")
    closes = ", ".join(f"{k}: {v}" for k, v in (stalled.get("extra_closes") or {}).items())
    growth = stalled.get("growth_mb")
    return [
        (
            "7 stalled readers",
            f"server RSS growth, flood of {_n(stalled.get('messages'))} x 4 KB to a group "
            f"with {n} stalled sockets (none stalled), MiB",
            f"{_n(growth)} ({_n(none.get('growth_mb'))})",
            "",
            "",
            f"stalled closed: {closes or 'none'}; reader got "
            f"{stalled.get('reader_received')}/{stalled.get('acked')}",
            "a few MiB (WS_OUTBOX_BYTES each)",
            _mark(None if growth is None else growth <= 4 * n),
        )
    ]


def _push_rows(s: dict[str, Any]) -> list[Row]:
    none, subs = s.get("none", {}), s.get("subscribed", {})
    nv, sv = _get(none, "msgs_per_s"), _get(subs, "msgs_per_s")
    nc, sc = _get(none, "msgs_per_cpu_s"), _get(subs, "msgs_per_cpu_s")
    counters = _get(subs, "push_counters") or {}
    n = _get(subs, "subscriptions")
    return [
        (
            "9 push",
            f"msg/s committed (200 closed-loop senders): {_n(n)} push subscriptions "
            "(10 per offline member) vs none",
            f"{_n(sv)} vs {_n(nv)}",
            "",
            "",
            _ratio(sv, nv),
            "",
            "-",
        ),
        (
            "9 push",
            "msg committed per second of server CPU, with vs none",
            f"{_n(sc)} vs {_n(nc)}",
            "",
            "",
            _ratio(sc, nc),
            ">= 0.9x",
            _mark(None if sc is None or not nc else sc >= 0.9 * nc),
        ),
        (
            "9 push",
            "ack p50 / p99 ms, with vs none",
            f"{_n(_get(subs, 'ack_p50_ms'))} / {_n(_get(subs, 'ack_p99_ms'))} vs "
            f"{_n(_get(none, 'ack_p50_ms'))} / {_n(_get(none, 'ack_p99_ms'))}",
            "",
            "",
            "",
            "",
            "-",
        ),
        (
            "9 push",
            "pushes: received by the push service / sent / failed / dropped (queue full)",
            f"{_n(_get(subs, 'pushes_received'))} / {_n(counters.get('sent'))} / "
            f"{_n(counters.get('failed'))} / {_n(counters.get('dropped'))}",
            "",
            "",
            "",
            "",
            "-",
        ),
    ]


BUILDERS = {
    "fanout": _fanout_rows,
    "idle": _idle_rows,
    "persist": _persist_rows,
    "history": _history_rows,
    "twoinst": _twoinst_rows,
    "upload": _upload_rows,
    "stalled": _stalled_rows,
    "search": _search_rows,
    "push": _push_rows,
}


def _contention(results: dict[str, Any]) -> str:
    waits: list[float] = []

    def walk(d: Any) -> None:
        if isinstance(d, dict):
            for k, v in d.items():
                if k == "server_runq_wait" and isinstance(v, list):
                    waits.extend(v)
                else:
                    walk(v)
        elif isinstance(d, list):
            for x in d:
                walk(x)

    walk(results.get("scenarios"))
    if not waits:
        return ""
    waits.sort()
    return (
        f"Server run-queue wait (runnable, no CPU: other jobs on the host) per wall second "
        f"over all steps: median {waits[len(waits) // 2]:.2f}, max {waits[-1]:.2f}."
    )


def render(results: dict[str, Any]) -> str:
    m = results.get("machine", {})
    lines = [
        f"Machine: {m.get('nproc')} CPUs ({m.get('cpu')}), {m.get('mem_gib')} GiB, "
        f"Python {m.get('python')}, Linux {m.get('kernel')}, commit {m.get('commit')}",
        f"Command: `{results.get('command')}` ({results.get('pinning')}; "
        f"{results.get('step_s')} s load steps); started {results.get('started')}",
        f"PostgreSQL: {results.get('postgres')}; Redis: {results.get('redis')}",
        "",
        "| scenario | metric | chatapi SQLite | chatapi PostgreSQL | baseline | ratio | target | |",
        "| --- | --- | ---: | ---: | ---: | ---: | --- | --- |",
    ]
    skipped: list[str] = []
    for name, data in results.get("scenarios", {}).items():
        if "error" in data:
            lines.append(f"| {name} | FAILED: {data['error']} | | | | | | |")
            continue
        skipped += [f"{name}: {s}" for s in data.get("skipped", [])]
        for row in BUILDERS[name](data):
            lines.append("| " + " | ".join(row) + " |")
    if skipped:
        lines += ["", "Skipped: " + "; ".join(skipped)]
    if any("chatapi-url" in d for d in results.get("scenarios", {}).values()):
        lines += ["", 'With --url, the "chatapi SQLite" column is the server at that URL.']
    versions = {
        name: d.get("src") for name, d in results.get("scenarios", {}).items() if d.get("src")
    }
    if versions:
        lines += ["", "Code measured: " + ", ".join(f"{k} {v}" for k, v in versions.items())]
    notes = _contention(results)
    sat = _generator_notes(results)
    if notes or sat:
        lines += [""] + [x for x in (notes, sat) if x]
    return "\n".join(lines)


def _generator_notes(results: dict[str, Any]) -> str:
    out = []
    fan = _get(results, "scenarios", "fanout") or {}
    for name, d in fan.items():
        if isinstance(d, dict) and _get(d, "ramp", "gen_saturated_at_limit"):
            out.append(name)
    if out:
        return "The load generator saturated (CPU time ~ wall time) at the limit of: " + ", ".join(
            out
        )
    return "The load generator never saturated (its CPU time stayed below 0.9 of wall time)."
