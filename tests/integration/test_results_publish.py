"""Publishing from the database (`promsvc results publish`), on SQLite and PostgreSQL: episodes
enrolled and answered through the API become the demo registry's published results, and the
result page shows them."""

from __future__ import annotations

import datetime as dt
import re

from service_helpers import bearer

from promsvc.commands import results as results_command
from promsvc.indicators.results import NATIONAL

DEMO = "/api/v1/registries/demo"
EQ5D = {"MO": 2, "SC": 1, "UA": 3, "PD": 4, "AD": 1, "VAS": 65}
EPISODES = 12


def test_publish_from_the_database_and_serve_it(client, keys, app, make_settings):
    soon = (dt.date.today() + dt.timedelta(days=7)).isoformat()  # the baseline is open now
    for i in range(EPISODES):
        body = {"external_id": f"PUB-{i}", "pseudonym": f"P-{i}", "unit": "dal-universitet", "protocol": "hip_primary",
                "event_date": soon}
        assert client.post(f"{DEMO}/episodes", json=body, headers=bearer(keys.system)).status_code == 201
        url = client.post(f"{DEMO}/episodes/PUB-{i}/time-points/baseline/link", headers=bearer(keys.system)).json()["url"]
        answers = {"eq5d-5l": EQ5D | {"MO": 1 + i % 5}}
        assert client.post(f"/api/v1/forms/{url.rsplit('/', 1)[1]}/submit", json={"answers": answers}).status_code in (200, 201)

    # the data date: after the events (the engine counts no episode whose event is still to come)
    row, pub = results_command.publish(make_settings(), app.state.registries, "demo", as_of=dt.date.fromisoformat(soon))
    counts = {r.unit: r for r in pub.results.results if r.indicator == "episodes" and r.period == soon[:4]}
    assert counts[NATIONAL].value == EPISODES and counts["dal-universitet"].value == EPISODES
    assert counts["hf-dal"].denominator == EPISODES
    baseline = [s for s in pub.summaries if s.unit == NATIONAL and s.time_point == "baseline" and s.instrument == "eq5d-5l"]
    assert [s.n for s in baseline] == [EPISODES]

    html = client.get("/results/demo", params={"period": soon[:4], "lang": "en"}).text
    article = re.search(r'<article class="indicator" id="episodes".*?</article>', html, re.S).group(0)
    assert f"Dalbygda universitetssykehus ({EPISODES})" in article
    assert "Distribution of scores" in html


def test_make_run_publishes_the_demo_and_says_where_to_look(database_url, session):
    import io

    from promsvc.commands import demo as demo_command
    from promsvc.reports import publication

    out = io.StringIO()
    demo_command.publish_results({"PROMSVC_DATABASE_URL": database_url, "PROMSVC_BASE_URL": "http://127.0.0.1:8000"}, out)
    printed = out.getvalue()
    assert "http://127.0.0.1:8000/results/demo" in printed and "promsvc report demo -o demo.pdf" in printed
    assert publication.head(session, "demo") is not None
