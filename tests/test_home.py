"""The foods page lists the table's richest B12 sources first (``/`` is the profile form)."""


def test_foods_page_lists_the_richest_sources_first(client, app):
    foods = app.extensions["planner.foods"]
    top = sorted(foods, key=lambda f: (-f.b12_ug_per_serving, f.food_id))

    response = client.get("/foods")

    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert top[0].name in html
    assert html.index(top[0].name) < html.index(top[1].name)
    assert "not medical advice" in html
