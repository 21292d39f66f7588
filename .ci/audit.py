"""Known vulnerabilities in the installed dependencies (pip-audit, PyPI's advisories).

Run by ``make audit`` (and so by ``.ci/run``). Exit status:

0  every installed distribution was checked and none has a known vulnerability;
1  at least one has a known vulnerability: each is listed with the versions
   that fix it (raise the minimum in setup.cfg, or upgrade the build tool);
3  the audit could not be completed: pip-audit failed, or the vulnerability
   service did not answer for some distributions. This is NOT a vulnerability
   finding, and it is NOT a pass either: a silent "no known vulnerabilities"
   for packages nobody could look up would be a lie. The run is retried once
   after a pause, so a passing network hiccup does not fail the build.

Set ``AUDIT_ALLOW_INCOMPLETE=1`` to turn status 3 into a warning (exit 0), e.g.
on a machine that cannot reach pypi.org; CI should not set it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

PIP_AUDIT = Path(sys.executable).with_name("pip-audit")
COMMAND = [str(PIP_AUDIT), "--skip-editable", "--progress-spinner", "off", "-f", "json"]
RETRY_AFTER_S = 15
VULNERABLE, INCOMPLETE = 1, 3


def audit() -> tuple[dict | None, str]:
    """pip-audit's JSON report (None when it gave none) and its error output."""
    proc = subprocess.run(COMMAND, capture_output=True, text=True, timeout=900)
    try:
        return json.loads(proc.stdout), proc.stderr
    except ValueError:
        return None, proc.stderr or proc.stdout


def summarise(report: dict) -> tuple[list[str], list[str], int]:
    """(vulnerabilities, distributions not audited, distributions audited)."""
    found, skipped, audited = [], [], 0
    for dep in report.get("dependencies", []):
        reason = dep.get("skip_reason")
        if reason:
            if "editable" not in reason:
                skipped.append(f"{dep['name']}: {reason}")
            continue
        audited += 1
        for vuln in dep.get("vulns", []):
            fixes = ", ".join(vuln.get("fix_versions") or []) or "no fixed version yet"
            aliases = ", ".join(vuln.get("aliases") or [])
            found.append(f"{dep['name']} {dep['version']}: {vuln['id']}"
                         f"{f' ({aliases})' if aliases else ''}; fixed in {fixes}")
    return found, skipped, audited


def main() -> int:
    if not PIP_AUDIT.exists():
        print(f"audit: {PIP_AUDIT} is missing; install the test extra "
              "(pip install -e '.[test]')", file=sys.stderr)
        return INCOMPLETE
    for attempt in (1, 2):
        report, errors = audit()
        if report is not None:
            found, skipped, audited = summarise(report)
            if found or not skipped:
                break
        if attempt == 1:
            print(f"audit: incomplete, trying again in {RETRY_AFTER_S} s", file=sys.stderr)
            time.sleep(RETRY_AFTER_S)
    if report is None:
        print("audit: INCOMPLETE: pip-audit gave no report (is pypi.org reachable?):\n"
              + errors.strip()[-2000:], file=sys.stderr)
        return INCOMPLETE
    return verdict(found, skipped, audited)


def verdict(found: list[str], skipped: list[str], audited: int) -> int:
    """Print what the audit found and return the exit status (module docstring)."""
    for line in found:
        print(f"VULNERABLE {line}")
    if found:
        print(f"audit: {len(found)} known vulnerabilit{'y' if len(found) == 1 else 'ies'} "
              f"in the installed dependencies ({audited} audited)", file=sys.stderr)
        return VULNERABLE
    if skipped:
        print(f"audit: INCOMPLETE: {len(skipped)} of {len(skipped) + audited} "
              "distributions could not be checked; this is not a vulnerability finding, "
              "but nothing can be said about them:", file=sys.stderr)
        for line in skipped[:20]:
            print(f"  {line}", file=sys.stderr)
        if len(skipped) > 20:
            print(f"  … and {len(skipped) - 20} more", file=sys.stderr)
        if os.environ.get("AUDIT_ALLOW_INCOMPLETE") == "1":
            print("audit: AUDIT_ALLOW_INCOMPLETE=1, so not failing", file=sys.stderr)
            return 0
        return INCOMPLETE
    print(f"audit: no known vulnerabilities in {audited} distributions")
    return 0

if __name__ == "__main__":
    sys.exit(main())
