"""Under attack: CSRF on every form, security headers on every response, no inline
script or style in the page templates, 1 MB bodies, escaped user text everywhere, mail
links that ignore a forged Host header, and per-client rate limits (in memory and in
Redis).

The route lists are read from ``app.url_map``, so a new page or form is covered
without editing this file (or fails here until it gets a sample value).
"""

from __future__ import annotations

import csv
import io
import re
import tempfile
from pathlib import Path

import pytest
from mail_support import VEGAN
from mail_support import add_subscribers
from mail_support import csrf_token
from markupsafe import escape
from sqlalchemy import text

from planner import create_app
from planner import security
from planner.api import schemas
from planner.mail import subscribers as store
from planner.store.db import db
from planner.store.models import Subscriber

pytest_plugins = ["mail_fixtures"]

ROOT = Path(__file__).resolve().parent.parent
WEEK = "2025-W07"
PROFILE_ARGS = {**VEGAN, "week": WEEK}
PAYLOADS = ["<script>alert(1)</script>", '"><img src=x onerror=alert(1)>']


def routes(method: str) -> list[tuple[str, str]]:
    """(rule, endpoint) of every route answering ``method``, from a freshly built app."""
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app({"TESTING": True, "SECRET_KEY": "x", "INSTANCE_PATH": tmp})
        return sorted((rule.rule, rule.endpoint) for rule in app.url_map.iter_rules()
                      if method in rule.methods)


POST_ROUTES = routes("POST")
FORM_ROUTES = [(rule, endpoint) for rule, endpoint in POST_ROUTES
               if not rule.startswith("/api/")]
GET_ROUTES = routes("GET")


def token_for(app, endpoint: str) -> str:
    """A valid signed link for subscriber 1, for the purpose the endpoint serves."""
    purpose = endpoint.rsplit(".", 1)[-1]
    assert purpose in store.PURPOSES, f"no token purpose for {endpoint}"
    with app.app_context():
        return store.make_token(db.session.get(Subscriber, 1), purpose)


def sample_urls(app, rule: str, endpoint: str) -> list[str]:
    """Concrete URLs for ``rule``: every option of an ``any`` converter, a valid
    token, a sample for the other arguments."""
    samples = {"filename": ["planner.css"], "food_id": ["not_one_of_yours"],
               "sealed": ["not-a-sealed-link"], "batch_id": ["0123456789abcdef0123456789abcdef"],
               "job_id": ["0123456789abcdef0123456789abcdef"]}
    urls = [rule]
    [found] = [r for r in app.url_map.iter_rules() if (r.rule, r.endpoint) == (rule, endpoint)]
    for name, converter in found._converters.items():
        if name == "token":
            values = [token_for(app, endpoint)]
        elif getattr(converter, "items", None):
            values = sorted(converter.items)
        else:
            assert name in samples, f"add a sample value for <{name}> of {rule} to this test"
            values = samples[name]
        pattern = re.compile(rf"<(?:[^<>:]+:)?{name}>")
        urls = [pattern.sub(value, url) for url in urls for value in values]
    return urls


def table_rows(app) -> dict[str, list]:
    """Every row of every table of the store, to show a refused request wrote nothing."""
    with app.app_context():
        names = [n for n in db.inspect(db.engine).get_table_names() if n != "alembic_version"]
        rows = {n: db.session.execute(text(f"SELECT * FROM {n}")).all() for n in names}
        db.session.remove()
    return rows


@pytest.fixture
def site(mail_app):
    """The app on a migrated database with one confirmed subscriber (id 1)."""
    add_subscribers(mail_app, 1)
    return mail_app


# ---- CSRF -------------------------------------------------------------------------------


@pytest.mark.parametrize(("rule", "endpoint"), FORM_ROUTES)
def test_every_form_post_without_its_csrf_token_gets_400_and_changes_nothing(site, rule,
                                                                             endpoint):
    client = site.test_client()
    client.get("/subscribe")  # a session exists, only the token is missing
    before = table_rows(site)
    form = {**VEGAN, "email": "ann@example.org", "name": "Oat drink", "group": "plant_drink"}

    for url in sample_urls(site, rule, endpoint):
        response = client.post(url, data=form)

        assert response.status_code == 400, url
        assert "The CSRF token is missing." in response.get_data(as_text=True), url
    assert table_rows(site) == before


def test_the_unsubscribe_button_carries_a_token_and_only_one_click_posts_go_without(site):
    client = site.test_client()
    url = f"/unsubscribe/{token_for(site, 'subscribe.unsubscribe')}"
    page = client.get(url).get_data(as_text=True)

    assert client.post(url, data={"csrf_token": "forged"}).status_code == 400
    assert client.post(url, data={"List-Unsubscribe": "Two-Clicks"}).status_code == 400
    assert client.post(url, data={"csrf_token": csrf_token(page)}).status_code == 200
    with site.app_context():
        assert db.session.get(Subscriber, 1).unsubscribed_at is not None


# ---- response headers -------------------------------------------------------------------

QUERIES = {
    "views.plan": PROFILE_ARGS, "views.plan_as": PROFILE_ARGS,
    "handouts.handout_page": {**PROFILE_ARGS, "client_name": "Ann"},
    "handouts.handout_file": {**PROFILE_ARGS, "client_name": "Ann"},
}
OTHER_RESPONSES = [  # (method, url, kwargs, status): errors and bodies of every kind
    ("post", "/api/v1/plan", {"json": {"age_years": 30, "diet": "vegan"}}, 200),
    ("post", "/api/v1/plan", {"json": {"diet": "keto"}}, 422),
    ("post", "/api/v1/assess", {"data": "{", "content_type": "application/json"}, 400),
    ("get", "/no/such/page", {}, 404),
    ("get", "/api/v1/no/such/thing", {}, 404),
    ("post", "/healthz", {}, 405),
    ("post", "/subscribe", {"data": {"email": "x" * (1024 * 1024)}}, 413),
    ("post", "/subscribe", {"data": {"email": "ann@example.org"}}, 400),
    ("get", "/plan?age_years=300&diet=vegan", {}, 400),
]


def assert_security_headers(response, where: str) -> None:
    csp = response.headers.get("Content-Security-Policy", "")
    directives = dict((d.strip().split(" ", 1) + [""])[:2] for d in csp.split(";"))
    assert directives.get("script-src") == "'self'", where
    assert directives.get("style-src") == "'self'", where
    assert directives.get("frame-ancestors") == "'none'", where
    assert directives.get("object-src") == "'none'", where
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp, where
    assert response.headers.get("X-Content-Type-Options") == "nosniff", where
    assert response.headers.get("Referrer-Policy") in ("same-origin", "no-referrer",
                                                       "strict-origin-when-cross-origin"), where


@pytest.mark.parametrize(("rule", "endpoint"), GET_ROUTES)
def test_every_page_and_file_carries_the_security_headers(site, rule, endpoint):
    client = site.test_client()
    for url in sample_urls(site, rule, endpoint):
        query = QUERIES.get(endpoint)
        response = client.get(url, query_string=query)

        assert response.status_code < 500, url
        assert_security_headers(response, url)


@pytest.mark.parametrize(("method", "url", "kwargs", "status"), OTHER_RESPONSES)
def test_error_and_api_responses_carry_the_security_headers(site, method, url, kwargs, status):
    response = getattr(site.test_client(), method)(url, **kwargs)

    assert response.status_code == status
    assert_security_headers(response, url)


def test_the_headers_are_the_ones_planner_security_sends(client):
    response = client.get("/healthz")
    for name, value in security.HEADERS.items():
        assert response.headers[name] == value


# ---- templates: nothing inline for the CSP to block --------------------------------------

INLINE = {
    "inline <script>": re.compile(r"<script\b(?![^>]*\bsrc\s*=)[^>]*>", re.I),
    "<style> element": re.compile(r"<style\b", re.I),
    "style= attribute": re.compile(r"<[a-z][^>]*\sstyle\s*=", re.I | re.S),
    "on*= event attribute": re.compile(r"<[a-z][^>]*\son[a-z]+\s*=", re.I | re.S),
    "javascript: URL": re.compile(r"javascript:", re.I),
}


def inline_problems(html: str) -> list[str]:
    return [name for name, pattern in INLINE.items() if pattern.search(html)]


def test_the_inline_detector_finds_what_it_looks_for():
    assert inline_problems('<script>alert(1)</script>') == ["inline <script>"]
    assert inline_problems('<script src="/static/x.js"></script>') == []
    assert inline_problems('<p\n  style="color: red">') == ["style= attribute"]
    assert inline_problems('<a href="#" onclick="go()">') == ["on*= event attribute"]
    assert inline_problems('<rect fill="#fff" class="bar"/>') == []


def test_page_templates_have_no_inline_script_style_or_event_handlers():
    """Email templates are left out: the CSP does not apply to mail, and mail
    programs need inline styles."""
    templates = ROOT / "templates"
    found = {str(path.relative_to(templates)): inline_problems(path.read_text())
             for path in sorted(templates.rglob("*.html"))
             if path.relative_to(templates).parts[0] != "email"}

    assert len(found) > 10
    assert {name: problems for name, problems in found.items() if problems} == {}


# ---- request bodies ---------------------------------------------------------------------


@pytest.mark.parametrize(("rule", "endpoint"), POST_ROUTES)
def test_every_post_over_one_megabyte_gets_413(site, rule, endpoint):
    client = site.test_client()
    for url in sample_urls(site, rule, endpoint):
        if rule.startswith("/api/"):
            response = client.post(url, data=b"[" + b" " * (1024 * 1024) + b"]",
                                   content_type="application/json")
        else:
            response = client.post(url, data={"notes": "x" * (1024 * 1024)})

        assert response.status_code == 413, url
        if rule.startswith("/api/"):
            assert response.get_json()["errors"][0]["field"] == "body"


# ---- user text is escaped wherever it is shown -------------------------------------------


def own_food_page(app, payload):
    client = app.test_client()
    token = csrf_token(client.get("/foods/mine").get_data(as_text=True))
    saved = client.post("/foods/mine", data={
        "csrf_token": token, "name": payload, "group": "plant_drink", "serving_g": "250",
        "serving_label": payload, "b12_ug_per_serving": "1",
        "diets": ["vegan"], "meals": ["breakfast"]}, follow_redirects=True)
    assert saved.status_code == 200, saved.get_data(as_text=True)[:2000]
    return saved.get_data(as_text=True) + client.get("/foods?q=drink").get_data(as_text=True)


def subscribe_page(app, payload):
    client = app.test_client()
    token = csrf_token(client.get("/subscribe").get_data(as_text=True))
    response = client.post("/subscribe", data={"csrf_token": token, "email": payload, **VEGAN})
    assert response.status_code == 400
    return response.get_data(as_text=True)


def preferences_page(app, payload):
    client = app.test_client()
    url = f"/preferences/{token_for(app, 'subscribe.preferences')}"
    token = csrf_token(client.get(url).get_data(as_text=True))
    response = client.post(url, data={"csrf_token": token, "age_years": payload,
                                      "diet": "vegan"})
    assert response.status_code == 400
    return response.get_data(as_text=True)


def batch_page(app, payload):
    client = app.test_client()
    token = csrf_token(client.get("/handouts/batch").get_data(as_text=True))
    rows = io.StringIO()
    csv.writer(rows).writerows([["client_name", "age_years", "diet"], [payload, "30", "keto"]])
    response = client.post("/handouts/batch", content_type="multipart/form-data", data={
        "csrf_token": token, "week": WEEK, "practitioner": payload,
        "file": (io.BytesIO(rows.getvalue().encode()), "clients.csv")})
    assert response.status_code == 422
    return response.get_data(as_text=True)


def user_table_page(make_app, tmp_path, payload):
    path = tmp_path / "user_foods.csv"
    with path.open("w", newline="") as f:
        csv.writer(f).writerows([
            ["food_id", "name", "group", "b12_ug_per_100g", "serving_g", "serving_label",
             "meals", "diets", "allergens", "fortified", "source", "evidence", "notes"],
            ["evil_drink", payload, "plant_drink", "0.4", "240", payload, "breakfast",
             "vegan;vegetarian;pescatarian;omnivore", "", "true", "fdc:2257046", "label",
             payload]])
    app = make_app(USER_FOODS_CSV=str(path))
    response = app.test_client().get("/foods?q=evil")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def get(url: str, query: dict, status: int = 200):
    def render(app, payload):
        args = {k: (payload if v is None else v) for k, v in query.items()}
        response = app.test_client().get(url, query_string=args)
        assert response.status_code == status, response.get_data(as_text=True)[:500]
        return response.get_data(as_text=True)

    return render


TEXT_FIELDS = {
    "age_years echoed into the form (/)": get("/", {"age_years": None}),
    "age_years in the plan page's error (/plan)": get("/plan", {**VEGAN, "age_years": None},
                                                      400),
    "q on /foods": get("/foods", {"q": None}),
    "client_name on the handout": get("/plan/handout", {**PROFILE_ARGS, "client_name": None}),
    "notes on the handout": get("/plan/handout", {**PROFILE_ARGS, "notes": None}),
    "practitioner on the handout": get("/plan/handout", {**PROFILE_ARGS,
                                                         "practitioner": None}),
    "client_name on the handout form's error page": get(
        "/plan/handout", {**PROFILE_ARGS, "age_years": "x", "client_name": None}, 400),
    "email on /subscribe's error page": subscribe_page,
    "a profile field on /preferences's error page": preferences_page,
    "client names and practitioner in a batch upload": batch_page,
    "an own food's name and serving (/foods/mine)": own_food_page,
}


@pytest.mark.parametrize("payload", PAYLOADS)
@pytest.mark.parametrize("field", TEXT_FIELDS)
def test_user_text_is_shown_escaped_never_as_markup(site, field, payload):
    html = TEXT_FIELDS[field](site, payload)

    assert payload not in html
    assert str(escape(payload)) in html
    assert "<img src=x" not in html and "<script>alert" not in html


@pytest.mark.parametrize("payload", PAYLOADS)
def test_food_names_from_the_user_table_are_escaped_on_foods(make_app, tmp_path, payload):
    html = user_table_page(make_app, tmp_path, payload)

    assert "<img src=x" not in html and "<script>alert" not in html
    assert str(escape(payload)) in html


# ---- mail: the Host header never reaches a link or a header ------------------------------


def test_a_forged_host_header_never_reaches_the_confirmation_email(make_app, recorder):
    app = make_app(SERVER_NAME=None, TESTING=False, DEBUG=False)
    client = app.test_client()
    headers = {"Host": "evil.example"}
    token = csrf_token(client.get("/subscribe", headers=headers).get_data(as_text=True))

    response = client.post("/subscribe", headers=headers,
                           data={"csrf_token": token, "email": "ann@example.org", **VEGAN})

    assert response.status_code == 503
    assert recorder.count == 0 and table_rows(app)["subscribers"] == []


def test_the_confirmation_email_uses_server_name_whatever_the_host_header(mail_app,
                                                                         recorder):
    client = mail_app.test_client()
    headers = {"Host": "evil.example"}
    token = csrf_token(client.get("/subscribe", headers=headers).get_data(as_text=True))

    client.post("/subscribe", headers=headers,
                data={"csrf_token": token, "email": "ann@example.org", **VEGAN})

    [message] = recorder.messages_to("ann@example.org")
    raw = message.as_string()
    assert "evil.example" not in raw
    assert "http://b12.test/confirm/" in message.get_body(("plain",)).get_content()


# ---- rate limits ------------------------------------------------------------------------


def limited_app(make_app, **config):
    return make_app(RATELIMIT_ENABLED=True, RATELIMIT_API="3 per minute",
                    RATELIMIT_SUBSCRIBE="2 per hour", **config)


def assert_429(response, *, json_body: bool) -> None:
    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) > 0
    assert_security_headers(response, "429")
    if json_body:
        error = schemas.Error.model_validate_json(response.data, strict=True)
        assert error.status == 429 and "at most 3 per 1 minute" in error.error
    else:
        assert response.mimetype == "text/html"
        assert "Too many requests" in response.get_data(as_text=True)


def test_the_api_answers_429_with_retry_after_per_client_address(make_app):
    app = limited_app(make_app)
    client = app.test_client()
    body = {"age_years": 30, "diet": "vegan"}

    statuses = [client.post("/api/v1/plan", json=body).status_code for _ in range(3)]
    assert statuses == [200, 200, 200]
    assert_429(client.post("/api/v1/plan", json=body), json_body=True)
    assert_429(client.get("/api/v1/foods"), json_body=True)  # the whole API shares it
    other = client.post("/api/v1/plan", json=body, environ_base={"REMOTE_ADDR": "10.0.0.9"})
    assert other.status_code == 200  # another address has its own count
    assert client.get("/foods").status_code == 200  # pages are not the API


def test_subscribing_is_limited_but_not_unsubscribing_or_preferences(make_app, recorder):
    app = limited_app(make_app)
    add_subscribers(app, 1)
    client = app.test_client()

    def subscribe(address):
        token = csrf_token(client.get("/subscribe").get_data(as_text=True))
        return client.post("/subscribe", data={"csrf_token": token, "email": address,
                                               **VEGAN})

    assert [subscribe(f"a{i}@example.org").status_code for i in range(2)] == [200, 200]
    assert_429(subscribe("a3@example.org"), json_body=False)
    assert client.get("/subscribe").status_code == 200  # only the POST is limited
    assert recorder.count == 2
    preferences = f"/preferences/{token_for(app, 'subscribe.preferences')}"
    unsubscribe = f"/unsubscribe/{token_for(app, 'subscribe.unsubscribe')}"
    for _ in range(5):  # mail providers send one-click unsubscribes from shared addresses
        assert client.get(preferences).status_code == 200
        assert client.post(unsubscribe, data={"List-Unsubscribe": "One-Click"}).status_code == 200


def test_redis_counts_the_limit_across_workers(make_app, redis_db):
    first = limited_app(make_app, RATELIMIT_STORAGE_URI=redis_db)
    second = limited_app(make_app, RATELIMIT_STORAGE_URI=redis_db)  # another worker
    body = {"age_years": 30, "diet": "vegan"}

    for app in (first, second, first):
        assert app.test_client().post("/api/v1/plan", json=body).status_code == 200
    assert_429(second.test_client().post("/api/v1/plan", json=body), json_body=True)
    from redis import Redis

    assert Redis.from_url(redis_db).keys("*LIMITER*")


def test_limits_are_off_in_tests_unless_asked_and_on_in_production(tmp_path, monkeypatch):
    for name in ("B12_RATELIMIT_ENABLED", "B12_SECRET_KEY"):
        monkeypatch.delenv(name, raising=False)
    testing = create_app({"TESTING": True, "INSTANCE_PATH": str(tmp_path)})
    production = create_app({"SECRET_KEY": "s", "INSTANCE_PATH": str(tmp_path)})
    monkeypatch.setenv("B12_RATELIMIT_ENABLED", "false")
    switched_off = create_app({"SECRET_KEY": "s", "INSTANCE_PATH": str(tmp_path)})

    assert testing.config["RATELIMIT_ENABLED"] is False
    assert production.config["RATELIMIT_ENABLED"] is True
    assert production.extensions["planner.limiter"].enabled
    assert switched_off.config["RATELIMIT_ENABLED"] is False
