"""Weekly email benchmark: one run to 10,000 confirmed subscribers.

The run is the real one (:func:`planner.mail.run.run_in_process`: plan, render,
claim, SMTP, mark sent) against an SQLite file made by the migrations and a
discarding SMTP server (aiosmtpd, tests/smtp_server.py) in its own process on
127.0.0.1. Subscribers share the benchmark profiles of benchmarks/profiles.py
round-robin, so plans are built once per distinct profile (the plan cache).

Reports emails per second, total seconds, and memory sampled at 1k, 5k and
10k emails: the process's peak RSS (``ru_maxrss``) and its current RSS, plus
the tracemalloc peak when run with ``--tracemalloc`` (slower). Bars: the run
takes at most 120 s and memory stays flat. The last line is a JSON object.

    python benchmarks/mail_bench.py [--subscribers 10000] [--tracemalloc]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from smtp_server import free_port  # noqa: E402

from benchmarks.profiles import bench_cases  # noqa: E402

WEEK = "2025-W07"
BAR_SECONDS = 120.0
SAMPLES = (1_000, 5_000, 10_000)


def rss_mb() -> float:
    """Current resident set size [MB] (Linux /proc)."""
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 1e6


def max_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e6  # KiB on Linux


def start_sink(port: int) -> subprocess.Popen:
    sink = subprocess.Popen([sys.executable, str(ROOT / "tests" / "smtp_server.py"),
                             "--port", str(port)], stdout=subprocess.PIPE, text=True)
    if sink.stdout.readline().strip() != "ready":
        sink.kill()
        raise SystemExit("the SMTP sink did not start")
    return sink


def stop_sink(sink: subprocess.Popen) -> int:
    """Stop the sink; returns how many messages it accepted."""
    sink.terminate()
    out, _ = sink.communicate(timeout=30)
    return int(out.split()[-1]) if out.split() else -1


def make_app(tmp: Path, port: int):
    import flask_migrate

    from planner import create_app

    app = create_app({
        "SECRET_KEY": "benchmark", "INSTANCE_PATH": str(tmp),
        "DATABASE_URL": f"sqlite:///{tmp / 'bench.sqlite'}",
        "SERVER_NAME": "b12.example.org", "PREFERRED_URL_SCHEME": "https",
        "MAIL_FROM": "B12 Planner <plans@b12.example.org>",
        "SMTP_HOST": "127.0.0.1", "SMTP_PORT": port, "MAIL_RETRY_DELAYS": [0.1, 0.5],
        "REDIS_URL": None,
    })
    with app.app_context():
        flask_migrate.upgrade()
    return app


def add_subscribers(app, n: int) -> int:
    """``n`` confirmed subscribers, profiles round-robin; returns distinct profiles."""
    from sqlalchemy import insert

    from planner.mail.subscribers import profile_json
    from planner.store.db import db
    from planner.store.models import Subscriber
    from planner.store.models import utcnow

    profiles = [profile_json(case.profile) for case in bench_cases()]
    now = utcnow()
    with app.app_context():
        for start in range(0, n, 1000):
            db.session.execute(insert(Subscriber), [
                {"email": f"reader{i:05d}@example.org",
                 "email_key": f"reader{i:05d}@example.org",
                 "profile_json": profiles[i % len(profiles)], "token_version": 1,
                 "confirmed_at": now, "created_at": now, "updated_at": now}
                for i in range(start, min(n, start + 1000))])
        db.session.commit()
        db.session.remove()
    return len(set(profiles))


def run(n: int, trace: bool) -> dict:
    from planner.mail import compose
    from planner.mail import run as weekly

    samples: list[dict] = []
    started = time.perf_counter()

    def progress(done: int, total: int, summary) -> None:
        if done in SAMPLES or done == total:
            if any(s["emails"] == done for s in samples):
                return
            sample = {"emails": done, "seconds": round(time.perf_counter() - started, 2),
                      "rss_mb": round(rss_mb(), 1), "max_rss_mb": round(max_rss_mb(), 1)}
            if trace:
                sample["tracemalloc_peak_mb"] = round(
                    tracemalloc.get_traced_memory()[1] / 1e6, 1)
            samples.append(sample)
            print(f"  {done:>6} emails  {sample['seconds']:>7.1f} s  "
                  f"RSS {sample['rss_mb']:.1f} MB  peak RSS {sample['max_rss_mb']:.1f} MB"
                  + (f"  tracemalloc peak {sample['tracemalloc_peak_mb']:.1f} MB"
                     if trace else ""), flush=True)

    summary = weekly.run_in_process(WEEK, progress=progress)
    seconds = time.perf_counter() - started
    cache = compose.plan_cache()
    return {"summary": summary, "seconds": seconds, "samples": samples,
            "plans_built": cache.misses, "plan_cache_hits": cache.hits}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=10_000)
    parser.add_argument("--tracemalloc", action="store_true",
                        help="also trace Python allocations (slows the run down)")
    args = parser.parse_args()

    port = free_port()
    sink = start_sink(port)
    try:
        with tempfile.TemporaryDirectory(prefix="b12-mail-bench-") as tmp:
            app = make_app(Path(tmp), port)
            distinct = add_subscribers(app, args.subscribers)
            if args.tracemalloc:
                tracemalloc.start()
            print(f"Weekly email run: {args.subscribers} subscribers, {distinct} distinct "
                  f"profiles, SQLite file, SMTP sink in its own process")
            with app.app_context():
                result = run(args.subscribers, args.tracemalloc)
    finally:
        accepted = stop_sink(sink)

    summary, seconds = result["summary"], result["seconds"]
    sent = summary.counts["sent"]
    rate = sent / seconds if seconds else 0.0
    rss = [s["rss_mb"] for s in result["samples"]]
    growth = (rss[-1] - rss[0]) if len(rss) > 1 else 0.0
    flat = growth <= max(10.0, 0.1 * rss[0]) if rss else False
    fast = seconds <= BAR_SECONDS or args.tracemalloc  # tracing slows it down
    ok = sent == args.subscribers == accepted and summary.ok and fast and flat
    print(f"sent {sent} of {args.subscribers} (the sink accepted {accepted}); "
          f"{result['plans_built']} plans built, {result['plan_cache_hits']} from the cache")
    verdict = ("not judged: tracemalloc slows the run" if args.tracemalloc
               else "met" if seconds <= BAR_SECONDS else "MISSED")
    print(f"total {seconds:.1f} s, {rate:.0f} emails/s "
          f"(bar: at most {BAR_SECONDS:.0f} s: {verdict})")
    print(f"RSS grew {growth:+.1f} MB from the first to the last sample "
          f"({'flat' if flat else 'NOT flat'})")
    print(json.dumps({
        "benchmark": "mail", "subscribers": args.subscribers, "sent": sent,
        "accepted_by_sink": accepted, "seconds": round(seconds, 2),
        "emails_per_second": round(rate, 1), "plans_built": result["plans_built"],
        "memory": result["samples"], "rss_growth_mb": round(growth, 1),
        "bar_seconds": BAR_SECONDS, "tracemalloc": args.tracemalloc, "ok": ok,
    }))
    if not ok:
        sys.exit(1)


if __name__ == "__main__":
    main()
