"""``make audit`` (.ci/audit.py): a vulnerability fails the build, and so does an audit
that could not look packages up, but the two are told apart."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

SPEC = importlib.util.spec_from_file_location(
    "ci_audit", Path(__file__).resolve().parent.parent / ".ci" / "audit.py")
audit = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(audit)

CLEAN = {"name": "flask", "version": "3.1.3", "vulns": []}
EDITABLE = {"name": "b12planner", "skip_reason": "distribution marked as editable"}
NOT_FOUND = {"name": "rq", "skip_reason": "Dependency not found on PyPI and could not be "
                                          "audited: rq (2.12.0)"}
VULNERABLE = {"name": "gunicorn", "version": "21.2.0", "vulns": [
    {"id": "GHSA-w3h3-4rj7-4ph4", "aliases": ["CVE-2024-1135"], "fix_versions": ["22.0.0"]}]}


@pytest.mark.parametrize(("dependencies", "status", "said"), [
    ([CLEAN, EDITABLE], 0, "no known vulnerabilities in 1 distributions"),
    ([CLEAN, VULNERABLE, NOT_FOUND], 1, "gunicorn 21.2.0: GHSA-w3h3-4rj7-4ph4 (CVE-2024-1135); "
                                        "fixed in 22.0.0"),
    ([CLEAN, NOT_FOUND], 3, "INCOMPLETE: 1 of 2 distributions could not be checked"),
    (None, 3, "INCOMPLETE: pip-audit gave no report"),
])
def test_the_exit_status_tells_vulnerable_from_incomplete(monkeypatch, capsys, dependencies,
                                                          status, said):
    calls = []

    def fake_audit():
        calls.append(1)
        if dependencies is None:
            return None, "ConnectionError: pypi.org unreachable"
        return {"dependencies": dependencies, "fixes": []}, ""

    monkeypatch.setattr(audit, "audit", fake_audit)
    monkeypatch.setattr(audit.time, "sleep", lambda s: None)
    monkeypatch.delenv("AUDIT_ALLOW_INCOMPLETE", raising=False)

    assert audit.main() == status
    out = capsys.readouterr()
    assert said in out.out + out.err
    assert len(calls) == (2 if status == 3 else 1)  # an incomplete audit is tried again


def test_an_incomplete_audit_may_be_allowed_explicitly(monkeypatch):
    monkeypatch.setattr(audit, "audit", lambda: ({"dependencies": [NOT_FOUND]}, ""))
    monkeypatch.setattr(audit.time, "sleep", lambda s: None)
    monkeypatch.setenv("AUDIT_ALLOW_INCOMPLETE", "1")

    assert audit.main() == 0
