"""Bounded work on the handout routes (issue 17, finding 3): per-client rate limits,
one in-process batch at a time, a time limit per upload, and a real 2-worker
gunicorn that keeps answering ``/healthz`` while batches run."""

from __future__ import annotations

import io
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
import zipfile
from pathlib import Path

import pytest
import requests

from planner import create_app
from planner.handouts import views

ROOT = Path(__file__).resolve().parent.parent
WEEK = "2025-W10"
NOTES = ("Take the supplement with breakfast. Fortified foods count too; read the "
         "label for B12. ") * 20  # long notes: more pages to lay out
HEADER = "client_name,age_years,diet,days,meals_per_day,symptoms,notes\n"


def heavy_csv(rows: int) -> bytes:
    """Rows as costly as the probe's: 14 days, 5 meals, long notes."""
    return (HEADER + "".join(
        f"Client {i:02d},{25 + i},{('vegan', 'omnivore', 'vegetarian')[i % 3]},14,5,"
        f"tingling;fatigue,\"{NOTES}\"\n" for i in range(rows))).encode()


def light_csv(rows: int) -> bytes:
    return (HEADER + "".join(f"C{i},{30 + i},vegan,,,,\n" for i in range(rows))).encode()


def csrf_token(html: str) -> str:
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html).group(1)


def upload(client, content: bytes):
    token = csrf_token(client.get("/handouts/batch").get_data(as_text=True))
    return client.post("/handouts/batch", content_type="multipart/form-data", data={
        "file": (io.BytesIO(content), "clients.csv"), "week": WEEK, "csrf_token": token},
        headers={"Accept": "application/zip"})  # the zip itself, as scripts ask (issue 16)


def limited_app(tmp_path, **config):
    return create_app({"TESTING": True, "SECRET_KEY": "test-secret",
                       "INSTANCE_PATH": str(tmp_path), "RATELIMIT_ENABLED": True, **config})


# ---- rate limits ------------------------------------------------------------------------

def test_the_handout_pdf_is_rate_limited_per_client(tmp_path):
    app = limited_app(tmp_path, RATELIMIT_HANDOUT_PDF="2 per minute")
    client = app.test_client()
    url = f"/plan/handout.pdf?age_years=30&diet=vegan&week={WEEK}"
    assert [client.get(url).status_code for _ in range(2)] == [200, 200]
    refused = client.get(url)
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) > 0
    assert "at most 2 per 1 minute" in refused.get_data(as_text=True)
    other = app.test_client()  # another client address has its own budget
    assert other.get(url, environ_base={"REMOTE_ADDR": "10.0.0.2"}).status_code == 200


def test_the_batch_upload_is_rate_limited_per_client_but_not_its_form(tmp_path):
    app = limited_app(tmp_path, RATELIMIT_HANDOUT_BATCH="1 per minute")
    client = app.test_client()
    assert upload(client, light_csv(1)).status_code == 200
    for _ in range(3):
        assert client.get("/handouts/batch").status_code == 200
    refused = upload(client, light_csv(1))
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) > 0


# ---- one batch at a time per process, and a time limit ------------------------------------

def test_a_second_batch_in_the_same_process_gets_429(app):
    first_client, second_client = app.test_client(), app.test_client()
    answers = {}
    first = threading.Thread(target=lambda: answers.update(
        first=upload(first_client, light_csv(6))))
    first.start()
    deadline = time.monotonic() + 30
    while not views._batch_slot.locked():
        assert time.monotonic() < deadline and first.is_alive()
        time.sleep(0.01)
    second = upload(second_client, light_csv(1))
    first.join(timeout=120)

    assert second.status_code == 429
    assert second.headers["Retry-After"] == str(views.BUSY_RETRY_AFTER_S)
    page = second.get_data(as_text=True)
    assert "another batch of handouts is being made" in page and "try again in 30" in page
    assert answers["first"].status_code == 200
    assert answers["first"].headers["X-Handout-Count"] == "6"
    assert upload(second_client, light_csv(1)).status_code == 200  # the slot is free again


def test_an_upload_stops_starting_handouts_at_its_time_limit(app, client):
    app.config["HANDOUT_BATCH_SECONDS"] = 0.5
    response = upload(client, light_csv(8))
    assert response.status_code == 200
    made = int(response.headers["X-Handout-Count"])
    assert 1 <= made < 8
    assert int(response.headers["X-Handout-Errors"]) == 8 - made
    with zipfile.ZipFile(io.BytesIO(response.data)) as zf:
        errors = zf.read("errors.txt").decode()
        assert len([n for n in zf.namelist() if n.endswith(".pdf")]) == made
    assert errors.count("not made: this upload reached its time limit of 0.5 s") == 8 - made


# ---- a real gunicorn ------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Gunicorn:
    """gunicorn on a free loopback port with production settings (see benchmarks/load.py)."""

    def __init__(self, tmp_path: Path, *args: str, **env: str):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = tmp_path / "gunicorn.log"
        environment = {k: v for k, v in os.environ.items() if not k.startswith("B12_")}
        environment.update(B12_SECRET_KEY=secrets.token_hex(32),
                           B12_DATABASE_URL=f"sqlite:///{tmp_path}/app.db",
                           B12_RATELIMIT_ENABLED="false", **env)
        gunicorn = str(Path(sys.executable).with_name("gunicorn"))
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(
                [gunicorn, *args, "-b", f"127.0.0.1:{self.port}", "planner:create_app()"],
                cwd=ROOT, env=environment, stdout=log, stderr=log, start_new_session=True)
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(f"{self.url}/healthz", timeout=5).status_code == 200:
                    break
            except requests.RequestException:  # not listening yet, or still booting
                pass
            assert self.proc.poll() is None, self.log.read_text()
            assert time.monotonic() < deadline, "gunicorn did not start"
            time.sleep(0.2)

    def upload(self, content: bytes) -> requests.Response:
        with requests.Session() as s:
            token = csrf_token(s.get(f"{self.url}/handouts/batch", timeout=10).text)
            return s.post(f"{self.url}/handouts/batch", timeout=120,
                          headers={"Accept": "application/zip"},
                          data={"csrf_token": token, "week": WEEK},
                          files={"file": ("clients.csv", content, "text/csv")})

    def stop(self) -> str:
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:  # workers stuck in a request
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)
        return self.log.read_text(errors="replace")


def is_gunicorns_own_page(response: requests.Response) -> bool:
    return "<h1><p>Internal Server Error</p></h1>" in response.text or (
        response.status_code >= 500 and "Content-Security-Policy" not in response.headers)


@pytest.mark.slow
def test_concurrent_uploads_on_two_workers_leave_healthz_answering(tmp_path):
    server = Gunicorn(tmp_path, "-w", "2", "-k", "gthread", "--threads", "4",
                      "--timeout", "30", B12_HANDOUT_BATCH_SECONDS="6")
    try:
        answers: list[requests.Response] = []
        uploads = [threading.Thread(target=lambda: answers.append(
            server.upload(heavy_csv(30)))) for _ in range(4)]
        for t in uploads:
            t.start()
        slowest = 0.0
        probes = 0
        while any(t.is_alive() for t in uploads):
            started = time.monotonic()
            health = requests.get(f"{server.url}/healthz", timeout=5)
            assert health.status_code == 200
            slowest = max(slowest, time.monotonic() - started)
            probes += 1
            time.sleep(0.2)
        for t in uploads:
            t.join()
    finally:
        log = server.stop()

    statuses = sorted(r.status_code for r in answers)
    print(f"statuses {statuses}; /healthz slowest {slowest * 1000:.0f} ms over {probes} probes")
    assert probes >= 5
    assert slowest < 1.0
    assert set(statuses) <= {200, 429} and 1 <= statuses.count(200) <= 2
    assert statuses.count(429) >= 2  # 2 workers, one batch each: the others are told to wait
    for r in answers:
        assert not is_gunicorns_own_page(r)
        if r.status_code == 429:
            assert r.headers["Retry-After"] == "30" and "one runs at a time" in r.text
        else:
            assert 1 <= int(r.headers["X-Handout-Count"]) < 30  # stopped at its time limit
    assert "WORKER TIMEOUT" not in log


@pytest.mark.slow
def test_one_heavy_upload_cannot_reach_a_worker_timeout(tmp_path):
    """30 costly rows take far longer than gunicorn's --timeout; the upload's own time
    limit ends the request first, so gunicorn never kills the worker (its 500 page)."""
    server = Gunicorn(tmp_path, "-w", "1", "--timeout", "10", B12_HANDOUT_BATCH_SECONDS="5")
    try:
        started = time.monotonic()
        response = server.upload(heavy_csv(30))
        took = time.monotonic() - started
    finally:
        log = server.stop()
    print(f"one heavy upload: {took:.1f} s, {response.headers.get('X-Handout-Count')} made")
    assert response.status_code == 200, response.text[:300]
    assert not is_gunicorns_own_page(response)
    assert 1 <= int(response.headers["X-Handout-Count"]) < 30
    assert took < 10
    assert "WORKER TIMEOUT" not in log


# ---- through RQ when Redis is configured --------------------------------------------------

pytest_plugins = ["mail_fixtures"]

MIXED = b"client_name,age_years,diet\nAnn,34,vegan\nBob,50,carnivore\nEve,67,omnivore\n"


def test_with_redis_an_upload_is_queued_and_a_worker_makes_it(tmp_path, redis_db):
    from planner.cli import cli

    app = create_app({"TESTING": True, "SECRET_KEY": "test-secret",
                      "INSTANCE_PATH": str(tmp_path), "REDIS_URL": redis_db})
    client = app.test_client()
    started = time.monotonic()
    queued = upload(client, MIXED)
    assert time.monotonic() - started < 2  # nothing is rendered in the web process
    assert queued.status_code == 303
    status_url = queued.headers["Location"]
    assert re.fullmatch(r"/handouts/batch/[0-9a-f-]{32,36}", status_url)

    waiting = client.get(status_url)
    assert waiting.status_code == 200 and waiting.headers["Refresh"] == "2"
    assert "Making the handouts: 0" in waiting.get_data(as_text=True)
    stranger = app.test_client()  # the link alone does not open another browser's batch
    assert stranger.get(status_url).status_code == 404
    assert stranger.get(status_url + "/zip").status_code == 404

    worked = app.test_cli_runner().invoke(cli, ["handouts-worker", "--burst"])
    assert worked.exit_code == 0, worked.output

    done = client.get(status_url)
    page = done.get_data(as_text=True)
    assert done.status_code == 200
    assert "2 handouts made" in page and "line 3 (Bob): diet:" in page
    archive = client.get(status_url + "/zip")
    assert archive.mimetype == "application/zip"
    assert archive.headers["X-Handout-Count"] == "2"
    with zipfile.ZipFile(io.BytesIO(archive.data)) as zf:
        assert sorted(n for n in zf.namelist() if n.endswith(".pdf")) == [
            f"b12-handout-ann-{WEEK}.pdf", f"b12-handout-eve-{WEEK}.pdf"]
        assert "line 3 (Bob): diet:" in zf.read("errors.txt").decode()


def test_with_redis_a_file_without_a_good_row_is_refused_at_once(tmp_path, redis_db):
    from redis import Redis
    from rq import Queue

    app = create_app({"TESTING": True, "SECRET_KEY": "test-secret",
                      "INSTANCE_PATH": str(tmp_path), "REDIS_URL": redis_db})
    response = upload(app.test_client(), b"client_name,age_years,diet\nA,30,carnivore\n")
    assert response.status_code == 422
    assert "line 2 (A): diet:" in response.get_data(as_text=True)
    assert Queue(views.DEFAULT_QUEUE, connection=Redis.from_url(redis_db)).count == 0


def test_the_worker_needs_redis(runner):
    from planner.cli import cli

    result = runner.invoke(cli, ["handouts-worker", "--burst"])
    assert result.exit_code == 2 and "B12_REDIS_URL" in result.output
