"""Hardening of the web layer (issue 17): query names that are ``url_for``'s own
arguments, answers that are never cached, HSTS and a Secure cookie behind HTTPS,
error lists capped at 50, chunked bodies capped like any other (against real
servers: werkzeug's and gunicorn), and the own-food limit under concurrent saves
(gunicorn workers against SQLite and against PostgreSQL)."""

from __future__ import annotations

import http.client
import inspect
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlencode

import flask
import flask_migrate
import pytest
from smtp_server import free_port
from sqlalchemy import func
from sqlalchemy import select
from test_mail_postgres import _admin
from test_mail_postgres import postgres  # noqa: F401  (the fixture)

from planner import create_app
from planner import errors
from planner import security
from planner.mail import subscribers as store
from planner.pages import privacy
from planner.store.db import db
from planner.store.models import Subscriber
from planner.store.models import UserFood

ROOT = Path(__file__).resolve().parent.parent
WEEK = "2025-W07"
PROFILE = {"age_years": "34", "diet": "vegan", "week": WEEK}
SECRET = "test-secret-hardening"


def make(tmp_path, **config):
    return create_app({"TESTING": True, "SECRET_KEY": SECRET,
                       "INSTANCE_PATH": str(tmp_path / "instance"), **config})


# ---- query names that url_for would take as its own arguments ---------------------------

#: url_for's own keyword arguments, read from its signature (so a new one is covered).
URL_FOR_KEYWORDS = [name for name, p in inspect.signature(flask.url_for).parameters.items()
                    if p.kind is not inspect.Parameter.VAR_KEYWORD]
VALUES = {"_method": "POST", "_scheme": "https", "_external": "1"}
#: Every GET route that takes a profile in its query.
PROFILE_ROUTES = ["/", "/plan", "/plan.json", "/plan.csv", "/plan.ics", "/plan/handout",
                  "/plan/handout.pdf", "/subscribe"]


def test_the_keywords_are_the_ones_the_issue_names():
    assert {"endpoint", "_anchor", "_method", "_scheme", "_external"} <= set(URL_FOR_KEYWORDS)


@pytest.mark.parametrize("keyword", URL_FOR_KEYWORDS)
@pytest.mark.parametrize("path", PROFILE_ROUTES)
def test_url_for_keywords_as_query_names_never_give_500(client, path, keyword):
    query = {**PROFILE, keyword: VALUES.get(keyword, "x")}
    if keyword == "_scheme":
        query["_external"] = "1"
    response = client.get(f"{path}?{urlencode(query)}")

    if path in ("/", "/subscribe"):  # the form, filled in from the query
        assert response.status_code == 200
    else:  # not a profile field: 400 naming it
        assert response.status_code == 400
        assert keyword in response.get_data(as_text=True)


def test_the_handout_error_page_links_back_with_the_profile_only(client):
    response = client.get(f"/plan/handout?{urlencode({**PROFILE, '_anchor': 'x'})}&"
                          "allergies=soy&allergies=milk")

    assert response.status_code == 400
    html = response.get_data(as_text=True)
    # A sealed link back since issue 16: the profile fields only, none readable.
    [back] = re.findall(r'href="(/t/[^"]+)"', html)
    with client.application.app_context():
        answers = privacy.open_pairs(back[3:]).to_dict(flat=False)
    assert answers == {"age_years": ["34"], "diet": ["vegan"], "week": ["2025-W07"],
                       "allergies": ["soy", "milk"]}
    assert "#x" not in html and "_anchor" not in back


# ---- Cache-Control: no-store on everything that carries a profile -----------------------


@pytest.fixture
def store_app(tmp_path):
    app = make(tmp_path, DATABASE_URL=f"sqlite:///{tmp_path / 'b12.sqlite'}")
    with app.app_context():
        flask_migrate.upgrade()
    yield app
    with app.app_context():
        db.engine.dispose()


def preferences_url(app) -> str:
    with app.app_context():
        subscriber = Subscriber(email="ann@example.org", email_key="ann@example.org",
                                profile_json=json.dumps({"age_years": 34, "diet": "vegan"}))
        db.session.add(subscriber)
        db.session.commit()
        return f"/preferences/{store.make_token(subscriber, 'preferences')}"


GOOD = urlencode(PROFILE)
BAD = urlencode({**PROFILE, "age_years": "300"})
PRIVATE_REQUESTS = [  # (method, url, kwargs, status)
    *(("get", f"{path}?{GOOD}", {}, 200) for path in
      ("/plan", "/plan.json", "/plan.csv", "/plan.ics", "/plan/handout",
       "/plan/handout.pdf")),
    *(("get", f"{path}?{BAD}", {}, 400) for path in
      ("/plan", "/plan.json", "/plan.csv", "/plan.ics", "/plan/handout",
       "/plan/handout.pdf")),
    ("post", "/api/v1/assess", {"json": {"age_years": 34, "diet": "vegan"}}, 200),
    ("post", f"/api/v1/plan?week={WEEK}", {"json": {"age_years": 34, "diet": "vegan"}}, 200),
    ("post", "/api/v1/plan", {"json": {"age_years": 300, "diet": "vegan"}}, 422),
    ("get", "PREFERENCES", {}, 200),
    ("post", "PREFERENCES", {"data": {"age_years": "40", "diet": "vegan"}}, 200),
    ("post", "/subscribe", {"data": {"email": "x", "age_years": "34", "diet": "vegan"}}, 400),
    ("get", f"/?{GOOD}", {}, 200),
]


@pytest.mark.parametrize(("method", "url", "kwargs", "status"), PRIVATE_REQUESTS)
def test_answers_that_carry_a_profile_are_never_stored(store_app, method, url, kwargs, status):
    store_app.config["WTF_CSRF_ENABLED"] = False
    if url == "PREFERENCES":
        url = preferences_url(store_app)
    response = getattr(store_app.test_client(), method)(url, **kwargs)

    assert response.status_code == status
    assert response.headers["Cache-Control"] == "no-store"


def test_pages_without_a_profile_may_still_be_cached(client):
    for url in ("/foods", "/about", "/static/planner.css", "/api/v1/targets"):
        assert "no-store" not in client.get(url).headers.get("Cache-Control", ""), url


# ---- HTTPS: HSTS and a Secure session cookie ---------------------------------------------


def session_cookie(app) -> str:
    """The Set-Cookie header of a page that puts a CSRF token in the session."""
    response = app.test_client().get("/subscribe")
    [cookie] = [v for v in response.headers.getlist("Set-Cookie") if v.startswith("session=")]
    return cookie


@pytest.mark.parametrize("config", [
    {"PREFERRED_URL_SCHEME": "https"},
    {"PROXY_FIX": {"x_for": 1, "x_proto": 1}},
    {"PROXY_FIX": 1},
], ids=["PREFERRED_URL_SCHEME", "PROXY_FIX mapping", "PROXY_FIX number"])
def test_with_https_configured_hsts_is_sent_and_the_session_cookie_is_secure(tmp_path, config):
    app = make(tmp_path, **config)

    for url in ("/healthz", "/plan?age_years=34&diet=vegan", "/no/such/page"):
        hsts = app.test_client().get(url).headers.get("Strict-Transport-Security")
        assert hsts == f"max-age={security.HSTS_MAX_AGE}", url
    cookie = session_cookie(app)
    assert "; Secure" in cookie and "; HttpOnly" in cookie


def test_without_https_there_is_no_hsts_and_the_cookie_works_over_http(tmp_path):
    app = make(tmp_path)

    assert "Strict-Transport-Security" not in app.test_client().get("/healthz").headers
    assert "; Secure" not in session_cookie(app)


def test_proxy_fix_takes_the_scheme_and_client_from_the_proxy(tmp_path):
    app = make(tmp_path, PROXY_FIX={"x_for": 1, "x_proto": 1})
    seen = {}

    @app.get("/probe-scheme")
    def probe():
        seen.update(scheme=flask.request.scheme, remote=flask.request.remote_addr)
        return "ok"

    app.test_client().get("/probe-scheme", headers={"X-Forwarded-Proto": "https",
                                                    "X-Forwarded-For": "203.0.113.9"})
    assert seen == {"scheme": "https", "remote": "203.0.113.9"}


# ---- at most 50 errors in one answer -----------------------------------------------------


def test_a_body_of_20000_unknown_keys_gets_50_errors_and_a_count(client):
    body = {"age_years": 34, "diet": "vegan", **{f"k{i}": 1 for i in range(20000)}}
    response = client.post("/api/v1/assess", json=body)

    assert response.status_code == 422
    data = response.get_json()
    assert len(data["errors"]) == errors.MAX_LISTED_ERRORS == 50
    assert data["more_errors"] == 20000 - 50
    assert data["error"].startswith("20000 problems")
    assert len(response.data) < 30_000


def test_the_html_error_page_lists_50_and_counts_the_rest(client):
    query = "&".join(f"k{i}=1" for i in range(120))
    response = client.get(f"/plan.csv?age_years=34&diet=vegan&{query}")

    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert html.count("<li><strong>k") == 50
    assert "and 70 more problems" in html


def test_fifty_errors_or_fewer_are_all_listed_without_a_count(client):
    body = {"age_years": 34, "diet": "vegan", **{f"k{i}": 1 for i in range(50)}}
    data = client.post("/api/v1/assess", json=body).get_json()

    assert len(data["errors"]) == 50
    assert "more_errors" not in data


# ---- chunked bodies, against real servers -------------------------------------------------


def chunked_post(base: str, path: str, chunks, timeout: float = 60) -> tuple[int, bytes]:
    """POST ``chunks`` with Transfer-Encoding: chunked (no Content-Length)."""
    host, port = base.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=timeout)
    try:
        connection.request("POST", path, body=iter(chunks), encode_chunked=True,
                           headers={"Content-Type": "application/json",
                                    "Transfer-Encoding": "chunked"})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


PADDED = [json.dumps({"age_years": 34, "diet": "vegan"}).encode()] + [b" " * 65536] * 48


def wait_for(url: str, deadline_s: float = 30) -> None:
    deadline = time.monotonic() + deadline_s
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


@pytest.fixture
def gunicorn(tmp_path):
    """``start(database_url=None, workers=2)``: gunicorn serving ``create_app()`` with
    production settings (rate limits and CSRF off); yields the base URL."""
    servers = []

    def start(database_url: str | None = None, workers: int = 2) -> str:
        port = free_port()
        env = dict(os.environ, B12_SECRET_KEY=SECRET, B12_RATELIMIT_ENABLED="false",
                   B12_WTF_CSRF_ENABLED="false")
        if database_url:
            env["B12_DATABASE_URL"] = database_url
        binary = str(Path(sys.executable).with_name("gunicorn"))
        server = subprocess.Popen(
            [binary, "-w", str(workers), "-b", f"127.0.0.1:{port}", "--log-level",
             "warning", "planner:create_app()"], cwd=ROOT, env=env, start_new_session=True)
        servers.append(server)
        base = f"http://127.0.0.1:{port}"
        wait_for(f"{base}/healthz")
        return base

    yield start
    for server in servers:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


@pytest.mark.parametrize("server", ["werkzeug", "gunicorn"])
def test_a_chunked_body_over_the_limit_gets_413(live_server, gunicorn, server):
    base = live_server if server == "werkzeug" else gunicorn()

    status, body = chunked_post(base, "/api/v1/assess", PADDED)  # about 3 MB
    assert status == 413
    assert json.loads(body)["errors"][0]["field"] == "body"

    status, body = chunked_post(base, "/api/v1/assess", PADDED[:10])  # about 0.6 MB
    assert status == 200
    assert json.loads(body)["risk_level"]


def test_a_chunked_form_over_the_limit_gets_413_too(live_server):
    chunks = [b"notes="] + [b"x" * 65536] * 20
    host, port = live_server.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=60)
    connection.request("POST", "/subscribe", body=iter(chunks), encode_chunked=True,
                       headers={"Content-Type": "application/x-www-form-urlencoded",
                                "Transfer-Encoding": "chunked"})
    assert connection.getresponse().status == 413
    connection.close()


# ---- the own-food limit under concurrent saves ----------------------------------------------

OWNER = "race-owner-key-0123456789"
FOOD = {"name": "Oat drink", "group": "plant_drink", "serving_g": "250",
        "b12_ug_per_serving": "0.95", "diets": "vegan", "meals": "breakfast"}


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def race_database(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'race.sqlite'}"
        return
    server = request.getfixturevalue("postgres")
    name = f"b12_race_{os.getpid()}_{int(time.time() * 1000) % 10**8}"
    _admin(server, f"CREATE DATABASE {name}")
    yield f"{server}/{name}"
    _admin(server, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def seed_foods(app, count: int) -> None:
    """The owner keeps exactly ``count`` foods."""
    with app.app_context():
        db.session.execute(UserFood.__table__.delete().where(UserFood.owner_key == OWNER))
        for i in range(count):
            db.session.add(UserFood(owner_key=OWNER, food_id=f"mine_{i:012x}", name=f"Food {i}",
                                    food_group="plant_drink", serving_g=250.0,
                                    serving_label="1 glass", b12_ug_per_serving=1.0,
                                    diets="vegan", allergens="", meals="breakfast"))
        db.session.commit()
        db.session.remove()


def kept(app) -> int:
    with app.app_context():
        n = db.session.scalar(select(func.count()).select_from(UserFood)
                              .where(UserFood.owner_key == OWNER))
        db.session.remove()
        return n


def save_at_once(base: str, cookie: str, saves: int) -> list[int]:
    """``saves`` POSTs of FOOD sent together (a barrier), each on its own connection."""
    host, port = base.removeprefix("http://").split(":")
    statuses: list[int] = []
    barrier = threading.Barrier(saves)

    def save():
        connection = http.client.HTTPConnection(host, int(port), timeout=60)
        connection.connect()
        barrier.wait()
        connection.request("POST", "/foods/mine", body=urlencode(FOOD),
                           headers={"Content-Type": "application/x-www-form-urlencoded",
                                    "Cookie": f"session={cookie}"})
        response = connection.getresponse()
        response.read()
        statuses.append(response.status)
        connection.close()

    threads = [threading.Thread(target=save) for _ in range(saves)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return sorted(statuses)


ROUNDS = 8


def test_concurrent_saves_never_pass_the_limit(tmp_path, gunicorn, race_database):
    """Eight rounds: the owner keeps 46 foods, then 16 saves arrive at once on 4
    gunicorn workers. Every round must end with 50 foods: 4 saved, 12 refused."""
    app = make(tmp_path, DATABASE_URL=race_database)
    with app.app_context():
        flask_migrate.upgrade()
    cookie = app.session_interface.get_signing_serializer(app).dumps(
        {"own_foods_owner": OWNER})
    base = gunicorn(race_database, workers=4)
    rounds = []
    for _ in range(ROUNDS):
        seed_foods(app, 46)
        statuses = save_at_once(base, cookie, 16)
        rounds.append((kept(app), statuses.count(303), statuses.count(400)))

    assert rounds == [(50, 4, 12)] * ROUNDS
    with app.app_context():
        db.engine.dispose()
