"""Scores leave the service without floating-point noise, by every way out (promsvc.numbers):
EQ-5D-5L 12345 on the Norwegian value set is 0.13692000000000004 in binary floating point,
and is stored so, but is read, exported and scored over HTTP as 0.13692; RAND-36 energy
(40 + 60 + 40) / 3 leaves with its 12 significant digits, 46.6666666667."""

from __future__ import annotations

import csv
import datetime as dt
import io

from service_helpers import bearer
from sqlmodel import select

from promsvc.models import Score

DEMO = "/api/v1/registries/demo"
STATE_12345 = {"MO": 1, "SC": 2, "UA": 3, "PD": 4, "AD": 5}
NOISY = 0.13692000000000004  # what the engine computes
ENERGY = {"q23": 4, "q27": 3, "q29": 3}  # RAND's worked example: vt = 140 / 3


def answered_episode(client, keys) -> None:
    body = {"external_id": "N1", "pseudonym": "P-N1", "unit": "fjord-sentral", "protocol": "hip_primary",
            "event_date": (dt.date.today() + dt.timedelta(days=7)).isoformat()}
    assert client.post(f"{DEMO}/episodes", json=body, headers=bearer(keys.system)).status_code == 201
    url = client.post(f"{DEMO}/episodes/N1/time-points/baseline/link", headers=bearer(keys.system)).json()["url"]
    r = client.post(f"/api/v1/forms/{url.rsplit('/', 1)[1]}/submit", json={"answers": {"eq5d-5l": STATE_12345, "rand36": ENERGY}})
    assert r.status_code == 201, r.text


def test_stored_with_full_precision_and_read_and_exported_as_0_13692(client, keys, session):
    answered_episode(client, keys)

    stored = {s.scoring: s.values for s in session.exec(select(Score))}
    assert stored["index"]["index"] == NOISY and stored["rand"]["vt"] == 140 / 3

    read = client.get(f"{DEMO}/episodes/N1", headers=bearer(keys.registry))
    assert read.status_code == 200, read.text
    assert '"index":0.13692' in read.text and str(NOISY) not in read.text
    responses = {r["instrument"]: r for r in read.json()["time_points"][0]["responses"]}
    assert [s["values"]["index"] for s in responses["eq5d-5l"]["scores"]] == [0.13692]
    assert {s["scoring"]: s["values"]["vt"] for s in responses["rand36"]["scores"]}["rand"] == 46.6666666667

    export = client.get(f"{DEMO}/export.csv", headers=bearer(keys.registry))
    first = next(csv.DictReader(io.StringIO(export.text)))
    assert (first["eq5d-5l.index"], first["rand36.vt"]) == ("0.13692", "46.6666666667")


def test_the_scoring_endpoint_answers_0_13692(client, keys):
    r = client.post("/api/v1/score", json={"instrument": "eq5d-5l", "responses": [STATE_12345]},
                    headers=bearer(keys.analyst))

    assert r.status_code == 200, r.text
    assert r.json()["scores"] == [{"index": 0.13692}]
    assert str(NOISY) not in r.text
