"""What an uncached ``POST /api/v1/plan`` costs, part by part, in process.

``make load`` judges issue 13's bar: a different profile on every request must
serve at least 25 % of ``/healthz``'s requests per second under gunicorn. This
benchmark takes one request apart, with the Flask test client in this process
(the real app, the real plan cache, CPU time of the thread, one core), so the
distance to the bar can be read part by part:

* ``healthz``: the trivial endpoint;
* ``cached_post``: ``POST /api/v1/plan`` for one profile again and again (the
  plan cache answers with the body it sent before): Flask, the JSON body, the
  profile's validation and the cache key, with no planning and no serialising;
* ``serialise``: ``to_dict`` and ``jsonify`` of a plan already built (what every
  uncached answer must still do);
* ``make_plan``: building the plan (assessment, dish problem, solve, meals'
  tables, shopping list, notes);
* ``uncached_post``: the whole request with a new profile each time, from the
  same 3,840 profiles as ``make load``.

``floor_ms`` = ``cached_post`` + ``serialise``: what an uncached request would
cost if planning took no time at all. With the figures of one ``make load`` run
(``--healthz-rps``, ``--cached-rps``) it also prints what the bar leaves for
planning under gunicorn: on ``--cores`` cores a request that serves ``r`` per
second costs ``cores / r`` of core time all told (HTTP, gunicorn, wrk), so the
bar allows ``cores / (0.25 × healthz_rps)`` per uncached request, of which the
cached request's ``cores / cached_rps`` and ``serialise`` are spent before any
planning. The last line is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
for path in (ROOT, ROOT / "benchmarks"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from load import DISTINCT_BAR  # noqa: E402
from load import distinct_profiles  # noqa: E402

WEEK = "2026-W49"


def per_call_ms(fn, items) -> float:
    """Median over 5 batches of the CPU time per call of ``fn(item)`` [ms]."""
    items = list(items)
    batches = [items[i::5] for i in range(5)]
    times = []
    for batch in batches:
        gc.collect()
        start = time.thread_time()
        for item in batch:
            fn(item)
        times.append((time.thread_time() - start) / len(batch) * 1000)
    return statistics.median(times)


def measure(n: int) -> dict:
    os.environ.setdefault("B12_SECRET_KEY", "request-floor-" + "x" * 40)
    os.environ["B12_RATELIMIT_ENABLED"] = "false"
    from flask import jsonify

    from planner import create_app
    from planner import services
    from planner.domain.planning import make_plan
    from planner.domain.profile import parse_profile

    app = create_app()
    client = app.test_client()
    profiles = distinct_profiles()
    random.Random(1).shuffle(profiles)
    warm, fresh = profiles[:50], profiles[50:50 + n]
    for body in warm:  # imports, lazy tables, first-request set-up
        client.post(f"/api/v1/plan?week={WEEK}", json=body)

    def post(body: dict) -> None:
        answer = client.post(f"/api/v1/plan?week={WEEK}", json=body)
        if answer.status_code != 200:
            raise SystemExit(f"POST /api/v1/plan answered {answer.status_code}")

    figures = {"healthz": per_call_ms(lambda _: client.get("/healthz"), range(5 * n)),
               "cached_post": per_call_ms(lambda _: post(warm[0]), range(5 * n))}
    with app.app_context():
        table, reference = services.foods(), services.load_reference()
        parsed = [parse_profile(body) for body in fresh]
        figures["make_plan"] = per_call_ms(
            lambda p: make_plan(p, table, week=WEEK, reference=reference), parsed)
        plans = [make_plan(p, table, week=WEEK, reference=reference) for p in parsed]
        figures["serialise"] = per_call_ms(lambda plan: jsonify(plan.to_dict()).get_data(),
                                           plans)
    figures["uncached_post"] = per_call_ms(post, profiles[50 + n:50 + 2 * n])
    return {key: round(value, 3) for key, value in figures.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profiles", type=int, default=300,
                        help="distinct profiles per uncached figure")
    parser.add_argument("--healthz-rps", type=float, help="/healthz req/s from make load")
    parser.add_argument("--cached-rps", type=float,
                        help="POST /api/v1/plan (same profile) req/s from make load")
    parser.add_argument("--cores", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    f = measure(args.profiles)
    f["floor_ms"] = round(f["cached_post"] + f["serialise"], 3)
    print(f"in process, CPU per request (median of 5 batches, {args.profiles} profiles):")
    for key in ("healthz", "cached_post", "serialise", "make_plan", "uncached_post",
                "floor_ms"):
        print(f"  {key:14s} {f[key]:8.3f} ms  = {f[key] / f['healthz']:6.1f} × /healthz")
    if args.healthz_rps and args.cached_rps:
        allowed = args.cores / (DISTINCT_BAR * args.healthz_rps) * 1000
        spent = args.cores / args.cached_rps * 1000 + f["serialise"]
        f.update(bar_allows_ms=round(allowed, 3), spent_before_planning_ms=round(spent, 3),
                 left_for_planning_ms=round(allowed - spent, 3))
        print(f"under gunicorn on {args.cores} cores: the bar allows {allowed:.2f} ms of core "
              f"time per uncached request; {spent:.2f} ms go to the request and serialising, "
              f"leaving {allowed - spent:.2f} ms for planning (make_plan now "
              f"{f['make_plan']:.2f} ms, {f['make_plan'] / max(allowed - spent, 1e-9):.0f} ×)")
    print(json.dumps(f))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
