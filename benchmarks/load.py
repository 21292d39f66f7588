"""Load test: gunicorn with production settings, wrk against three endpoints.

Runs ``wrk`` for ``--duration`` seconds at ``--connections`` connections against
``POST /api/v1/plan``, ``GET /plan?…`` and ``GET /healthz`` on one gunicorn
server bound to 127.0.0.1, one endpoint after the other, and reports requests
per second, p50 and p99 latency, errors, and each endpoint's ratio to
``/healthz``. The last line is one JSON object with the figures.

The plan endpoints answer a profile they planned before from the plan cache
(``planner.cache``), so a fourth run, ``POST /api/v1/plan (distinct)``,
sends a different profile with every request, from a pool of
``len(distinct_profiles())`` (far more than the cache holds per worker, in
rotation), so every one of its requests builds a new plan: the uncached
figure.

Bars: no errors; the repeated profile at least 50 % of ``/healthz``'s
requests per second; a different profile on every request at least 25 %
(issue 13). Exits 1 when a bar is not met.

Rate limits are switched off for this run (all traffic comes from one
address, so the per-client limit would turn the measurement into 429s); every
other setting is the production one: no debug, a real secret key, gunicorn
sync workers.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROFILE = {
    "age_years": 34, "diet": "vegan", "sex": "female",
    "include_foods": [], "allergies": ["tree_nut"],
}
PLAN_QUERY = "age_years=34&diet=vegan&sex=female&allergies=tree_nut"


CACHED_BAR = 0.5  # POST /api/v1/plan, one profile again and again, vs /healthz
DISTINCT_BAR = 0.25  # POST /api/v1/plan, a different profile every request (issue 13)


def distinct_profiles() -> list[dict]:
    """3840 different valid profiles: age 18–97 × diet × sex × meals per day."""
    return [{"age_years": age, "diet": diet, "sex": sex, "meals_per_day": meals}
            for age in range(18, 98)
            for diet in ("vegan", "vegetarian", "pescatarian", "omnivore")
            for sex in ("female", "male", "unspecified")
            for meals in (2, 3, 4, 5)]


def lua_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def rotating_script(bodies: list[str]) -> str:
    """A wrk script POSTing ``bodies`` in turn; thread k of n sends k, k+n, k+2n…"""
    return ("local bodies = {\n" + ",\n".join(lua_string(b) for b in bodies) + "\n}\n"
            "local threads, counter = 2, 0\n"
            "function setup(thread) thread:set('id', counter); counter = counter + 1 end\n"
            "local i = nil\n"
            "function request()\n"
            "  if i == nil then i = id end\n"
            "  i = (i + threads) % #bodies\n"
            "  return wrk.format('POST', nil, {['Content-Type'] = 'application/json'},\n"
            "                    bodies[i + 1])\n"
            "end\n")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(url: str, seconds: float = 30) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"server did not answer {url} within {seconds:.0f} s")


def to_ms(value: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", value).groups()
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def parse_wrk(text: str) -> dict:
    """Requests/s, p50/p99 latency [ms] and error count from ``wrk --latency``."""
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
    latency = dict(re.findall(r"^\s+(50|99)(?:\.000)?%\s+(\S+)", text, re.M))
    errors = 0
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    if non2xx:
        errors += int(non2xx.group(1))
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), "
                     r"timeout (\d+)", text)
    if sock:
        errors += sum(int(n) for n in sock.groups())
    total = int(re.search(r"(\d+) requests in", text).group(1))
    return {"rps": rps, "p50_ms": to_ms(latency["50"]), "p99_ms": to_ms(latency["99"]),
            "errors": errors, "requests": total}


def run_wrk(url: str, duration: int, connections: int, script: Path | None) -> dict:
    cmd = ["wrk", "-t2", f"-c{connections}", f"-d{duration}s", "--latency",
           "--timeout", "10s"]
    if script:
        cmd += ["-s", str(script)]
    out = subprocess.run(cmd + [url], capture_output=True, text=True, check=True).stdout
    return parse_wrk(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=60, help="seconds per endpoint")
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        print("wrk is missing; install it with: apt-get install -y wrk", file=sys.stderr)
        return 2

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = dict(os.environ, B12_SECRET_KEY=secrets.token_hex(32),
               B12_RATELIMIT_ENABLED="false")
    gunicorn = str(Path(sys.executable).with_name("gunicorn"))
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "post_plan.lua"
        body = json.dumps(PROFILE).replace("\\", "\\\\").replace('"', '\\"')
        script.write_text('wrk.method = "POST"\n'
                          'wrk.headers["Content-Type"] = "application/json"\n'
                          f'wrk.body = "{body}"\n')
        distinct = Path(tmp) / "post_plan_distinct.lua"
        distinct.write_text(rotating_script([json.dumps(p) for p in distinct_profiles()]))
        server = subprocess.Popen(
            [gunicorn, "-w", str(args.workers), "-b", f"127.0.0.1:{port}",
             "--log-level", "warning", "planner:create_app()"],
            cwd=ROOT, env=env, start_new_session=True)
        try:
            wait_for(f"{base}/healthz")
            targets = {
                "GET /healthz": (f"{base}/healthz", None),
                "POST /api/v1/plan": (f"{base}/api/v1/plan", script),
                "GET /plan?…": (f"{base}/plan?{PLAN_QUERY}", None),
                "POST /api/v1/plan (distinct)": (f"{base}/api/v1/plan", distinct),
            }
            results = {}
            for name, (url, lua) in targets.items():
                print(f"wrk {args.duration} s, {args.connections} connections: {name}",
                      file=sys.stderr, flush=True)
                results[name] = run_wrk(url, args.duration, args.connections, lua)
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)

    base_rps = results["GET /healthz"]["rps"]
    print(f"\n{'endpoint':30} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7} "
          f"{'vs healthz':>10}")
    for name, r in results.items():
        r["ratio"] = r["rps"] / base_rps if base_rps else 0.0
        print(f"{name:30} {r['rps']:9.0f} {r['p50_ms']:8.2f} {r['p99_ms']:8.2f} "
              f"{r['errors']:7d} {r['ratio']:9.0%}")
    total_errors = sum(r["errors"] for r in results.values())
    plan_ratio = results["POST /api/v1/plan"]["ratio"]
    distinct = results["POST /api/v1/plan (distinct)"]
    ok = (total_errors == 0 and plan_ratio >= CACHED_BAR
          and distinct["ratio"] >= DISTINCT_BAR)
    print(f"\nPOST /api/v1/plan with a different profile on every request: "
          f"{distinct['rps']:.0f} req/s against /healthz's {base_rps:.0f} req/s = "
          f"{distinct['ratio']:.0%} (bar {DISTINCT_BAR:.0%}); the same profile again: "
          f"{plan_ratio:.0%} (bar {CACHED_BAR:.0%}); errors: {total_errors} (bar 0) → "
          f"{'met' if ok else 'NOT met'}")
    print(json.dumps({name: {k: round(v, 3) if isinstance(v, float) else v
                             for k, v in r.items()} for name, r in results.items()}
                     | {"errors": total_errors, "plan_ratio": round(plan_ratio, 3),
                        "distinct_ratio": round(distinct["ratio"], 3)}))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
