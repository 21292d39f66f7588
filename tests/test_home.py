"""The foods page lists the table's best B12 sources first (``/`` is now the profile form)."""

from planner.views import best_sources


def test_home_lists_the_richest_sources_first(client, app):
    foods = app.extensions["planner.foods"]
    top = best_sources(foods)

    response = client.get("/foods")

    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert top[0].name in html
    assert html.index(top[0].name) < html.index(top[1].name)
    assert "not medical advice" in html


def test_best_sources_skip_foods_not_counted():
    from foods.loader import load_foods

    assert all(f.counts_as_source for f in best_sources(load_foods(), limit=500))
