"""Health data never in a URL (issue 16, point 2): the forms POST, and every link the
pages make carries the answers as an encrypted, expiring token (planner.pages.privacy).

The end-to-end test drives Debian's Chromium through a complete flow against a real
gunicorn writing an access log, then reads that log.
"""

from __future__ import annotations

import base64
import re
import time
import zlib

import pytest
import test_handout_limits as limits

from planner.pages import privacy

SECRET_ANSWERS = {  # every value here must stay out of URLs and the access log
    "medications": "metformin", "conditions": "atrophic_gastritis", "symptoms": "tingling",
}
CLIENT_NAME = "Zebulon Quixwhistle"
NOTES = "Keep the lentil soup going, Zebulon; bring your blood results next visit"


def csrf(html: str) -> str:
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html).group(1)


def test_a_sealed_token_is_encrypted_not_just_signed(app):
    with app.app_context():
        token = privacy.seal_pairs([("medications", "metformin"), ("notes", "secret note")])
        assert privacy.open_pairs(token).getlist("medications") == ["metformin"]
    raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    body = raw[25:-32]  # Fernet: version, time, IV | ciphertext | HMAC
    for blob in (raw, body):
        assert b"metformin" not in blob and b"secret" not in blob
        with pytest.raises(zlib.error):  # not merely compressed either
            zlib.decompress(blob)


def test_a_changed_expired_or_foreign_token_is_refused(app, client):
    with app.app_context():
        good = privacy.seal_pairs([("age_years", "40"), ("diet", "vegan")])
        old = privacy.seal_pairs([("age_years", "40"), ("diet", "vegan")],
                                 now=time.time() - privacy.DEFAULT_MAX_AGE - 60)
        foreign = privacy.seal_pairs([("age_years", "40"), ("diet", "vegan")],
                                     secret="another server's secret")
    tampered = good[:-6] + ("A" if good[-6] != "A" else "B") + good[-5:]

    assert client.get(f"/plan/t/{good}").status_code == 200
    expired = client.get(f"/plan/t/{old}")
    assert expired.status_code == 410 and "expired" in expired.get_data(as_text=True)
    for token in (tampered, foreign, "gAAAA", "x" * 9000):
        assert client.get(f"/plan/t/{token}").status_code == 404, token[:20]
        assert client.get(f"/plan/t/{token}.json").status_code == 404
        assert client.get(f"/plan/t/{token}/handout").status_code == 404


def test_the_form_posts_and_lands_on_a_sealed_plan(client):
    token = csrf(client.get("/").get_data(as_text=True))
    response = client.post("/plan", data={"csrf_token": token, "age_years": "70",
                                          "diet": "vegan", **SECRET_ANSWERS})

    assert response.status_code == 303
    location = response.headers["Location"]
    assert location.startswith("/plan/t/") and "?" not in location
    page = client.get(location).get_data(as_text=True)
    # this server's links (outbound source links such as veganhealth.org carry no answers)
    links = " ".join(u for u in re.findall(r'(?:href|action)="([^"]+)"', page)
                     if not u.startswith(("http://", "https://")))
    assert "/plan/t/" in links
    for value in (*SECRET_ANSWERS.values(), "age_years", "diet=", "vegan"):
        assert value not in links and value not in location


def test_a_failed_form_post_shows_the_errors_and_keeps_the_answers(client):
    token = csrf(client.get("/").get_data(as_text=True))
    response = client.post("/plan", data={"csrf_token": token, "age_years": "abc",
                                          "diet": "vegan", **SECRET_ANSWERS})
    page = response.get_data(as_text=True)

    assert response.status_code == 400
    assert 'id="error-summary"' in page
    assert 'value="metformin" checked' in page


def test_email_me_this_plan_prefills_subscribe_from_the_sealed_link(client):
    token = csrf(client.get("/").get_data(as_text=True))
    plan = client.post("/plan", data={"csrf_token": token, "age_years": "70",
                                      "diet": "vegan", **SECRET_ANSWERS}, follow_redirects=True)
    html = plan.get_data(as_text=True)
    link = re.search(r'<a href="(/subscribe\?plan=[^"]+)"[^>]*>Email me this plan every week',
                     html).group(1).replace("&amp;", "&")
    assert "metformin" not in link

    form = client.get(link).get_data(as_text=True)
    assert 'value="metformin" checked' in form and 'value="vegan" checked' in form
    assert 'value="70"' in form


@pytest.mark.browser
@pytest.mark.slow
def test_a_whole_web_flow_leaves_no_health_data_in_the_access_log(browser, tmp_path):
    server = limits.Gunicorn(tmp_path, "--workers", "2", "--access-logfile",
                             str(tmp_path / "access.log"))
    try:
        context = browser.new_context(base_url=server.url,
                                      viewport={"width": 1280, "height": 900})
        page = context.new_page()
        page.goto("/")
        page.fill("#field-age_years", "70")
        page.check("#field-diet-vegan")
        for field, value in SECRET_ANSWERS.items():
            page.check(f"#field-{field}-{value}")
        page.fill("#field-age_years", "seventy")  # a failed submit first
        page.get_by_role("button", name="Make my plan").click()
        page.wait_for_selector("#error-summary")
        page.fill("#field-age_years", "70")
        page.get_by_role("button", name="Make my plan").click()
        page.wait_for_url("**/plan/t/**")
        assert page.locator("h1").inner_text().startswith("Your B12 plan")

        for name in ("JSON", "CSV (spreadsheet)", "Calendar (iCalendar)",
                     "Printable handout", "Handout as PDF"):
            href = page.get_by_role("link", name=name, exact=True).get_attribute("href")
            assert page.request.get(href).status == 200, name

        page.locator("details.handout-form summary").click()
        page.fill("#field-client_name", CLIENT_NAME)
        page.fill("#field-practitioner", "Dr Ada Lovelace-Byron")
        page.fill("#field-notes", NOTES)
        page.get_by_role("button", name="Make the handout").click()
        page.wait_for_url("**/handout")
        assert CLIENT_NAME in page.content()
        pdf = page.get_by_role("link", name="Open as PDF").get_attribute("href")
        assert page.request.get(pdf).body()[:5] == b"%PDF-"
        page.get_by_role("link", name="US Letter").click()
        page.wait_for_load_state()
        assert CLIENT_NAME in page.content()
        page.get_by_role("link", name="Back to the plan").click()
        page.wait_for_url("**/plan/t/**")
        page.get_by_role("link", name="Email me this plan every week").click()
        page.wait_for_url("**/subscribe?plan=**")
        assert page.is_checked("#field-medications-metformin")
        page.go_back()
        page.get_by_role("link", name="Change your answers").click()
        page.wait_for_url("**/t/**")
        assert page.is_checked("#field-symptoms-tingling")
        context.close()
    finally:
        server.stop()
    log = (tmp_path / "access.log").read_text()

    assert log.count("/plan/t/") >= 8 and "POST /plan " in log and "/handout" in log
    for secret in (*SECRET_ANSWERS.values(), "Zebulon", "Quixwhistle", "lentil",
                   "blood results", "Lovelace", "age_years", "diet=vegan"):
        assert secret.lower() not in log.lower(), f"{secret!r} is in the access log"


def test_the_sealed_handout_pdf_shares_the_pdf_rate_limit(tmp_path):
    app = limits.limited_app(tmp_path, RATELIMIT_HANDOUT_PDF="2 per minute")
    client = app.test_client()
    with app.app_context():
        token = privacy.seal_pairs([("age_years", "30"), ("diet", "vegan"),
                                    ("week", "2025-W10"), ("client_name", "Ann")])
    old = "/plan/handout.pdf?age_years=30&diet=vegan&week=2025-W10"
    assert client.get(old).status_code == 200
    assert client.get(f"/plan/t/{token}/handout.pdf").status_code == 200
    assert client.get(f"/plan/t/{token}/handout.pdf").status_code == 429
    assert client.get(old).status_code == 429
