"""Episode attributes: declared by a protocol (checked when the registry is loaded), sent at
enrolment and checked against the declaration, changed by the system role (audited), shown in
the episode read and written to the export, on SQLite and PostgreSQL."""

from __future__ import annotations

import copy
import csv
import datetime as dt
import hashlib
import io
import json

import pytest
import yaml
from service_helpers import bearer
from sqlmodel import select
from test_registries import DEMO

from promsvc.episodes.schemas import EnrolIn
from promsvc.episodes.services import payload_hash
from promsvc.models import AuditEntry, Episode
from promsvc.registries import loader

API = "/api/v1/registries/demo/episodes"
SOON = (dt.date.today() + dt.timedelta(days=7)).isoformat()
ATTRIBUTES = {"sex": "female", "age_group": "70-79", "asa_class": 2, "urgency": "elective", "previous_surgery": False}


def payload(external_id="HIP-1", **changes) -> dict:
    body = {"external_id": external_id, "pseudonym": f"PSN-{external_id}", "unit": "fjord-kyst",
            "protocol": "hip_primary", "event_date": SOON}
    return body | changes


# ------------------------------------------------------------------ declared in the registry file


def _attributes(change):
    data = copy.deepcopy(DEMO)
    change(data["protocols"][0]["attributes"])
    return data


CASES = [
    ("id twice", lambda a: a.append(copy.deepcopy(a[0])), ["at $.protocols[0].attributes[6].id", "'sex' is used twice", "attributes[0]"]),
    ("id not a name", lambda a: a[0].update(id="Sex group"), ["at $.protocols[0].attributes[0].id", "lower-case letters"]),
    ("category without values", lambda a: a[0].update(values=[]), ["at $.protocols[0].attributes[0].values", "needs its allowed values"]),
    ("value twice", lambda a: a[0]["values"].append("male"), ["at $.protocols[0].attributes[0].values[2]", "listed twice"]),
    ("value with a quote", lambda a: a[0]["values"].append("o'brien"), ["at $.protocols[0].attributes[0].values[2]", "quotes"]),
    ("value with spaces around", lambda a: a[0]["values"].append(" male"), ["at $.protocols[0].attributes[0].values[2]", "spaces around"]),
    ("values on an integer", lambda a: a[2].update(values=["1"]), ["at $.protocols[0].attributes[2].values", "only a category"]),
    ("min above max", lambda a: a[2].update(min=5, max=1), ["at $.protocols[0].attributes[2].min", "above max 1", "swap"]),
    ("range on a boolean", lambda a: a[4].update(max=1), ["at $.protocols[0].attributes[4].max", "only an integer has a range"]),
    ("unknown kind", lambda a: a[0].update(kind="text"), ["at $.protocols[0].attributes[0].kind", "Invalid enum value 'text'"]),
]


@pytest.mark.parametrize(("what", "change", "expected"), CASES, ids=[c[0] for c in CASES])
def test_a_bad_attribute_declaration_is_refused_with_path_and_fix(what, change, expected):
    with pytest.raises(loader.RegistryError) as info:
        loader.decode(yaml.safe_dump(_attributes(change), allow_unicode=True).encode(), "test.yaml")
    for fragment in expected:
        assert fragment in str(info.value), f"{what}: {fragment!r} not in {info.value}"


def test_the_demo_protocol_declares_the_indicators_attributes():
    declared = {a.id: a for a in loader.demo().protocol("hip_primary").attributes}
    assert {k: a.kind for k, a in declared.items()} == {
        "sex": "category", "age_group": "category", "asa_class": "integer", "urgency": "category",
        "previous_surgery": "boolean", "diagnosis": "category"}
    assert (declared["asa_class"].min, declared["asa_class"].max) == (1, 5)
    assert declared["urgency"].values == ["elective", "acute"]


# ------------------------------------------------------------------ enrolment


def test_attributes_sent_at_enrolment_are_stored_and_read_back(client, keys, session):
    r = client.post(API, json=payload(attributes=ATTRIBUTES | {"diagnosis": None}), headers=bearer(keys.system))
    assert r.status_code == 201, r.text
    assert r.json()["attributes"] == ATTRIBUTES  # null is unknown: not stored
    assert session.exec(select(Episode.attributes)).one() == ATTRIBUTES
    read = client.get(f"{API}/HIP-1", headers=bearer(keys.registry)).json()
    assert read["attributes"] == ATTRIBUTES


def test_enrolment_without_attributes_keeps_its_earlier_payload_hash():
    body = payload()
    old = hashlib.sha256(json.dumps(  # the hash as computed before attributes existed
        {**body, "language": "nb", "contacts": [], "proxy": False}, sort_keys=True, ensure_ascii=False).encode()).hexdigest()
    import msgspec

    assert payload_hash(msgspec.convert(body, EnrolIn)) == old
    assert payload_hash(msgspec.convert(body | {"attributes": {"sex": "male"}}, EnrolIn)) != old


def test_the_same_enrolment_again_is_200_and_other_attributes_are_409(client, keys):
    system = bearer(keys.system)
    assert client.post(API, json=payload(attributes=ATTRIBUTES), headers=system).status_code == 201
    assert client.post(API, json=payload(attributes=dict(reversed(ATTRIBUTES.items()))), headers=system).status_code == 200
    r = client.post(API, json=payload(attributes=ATTRIBUTES | {"asa_class": 3}), headers=system)
    assert r.status_code == 409 and r.json()["where"] == "$.external_id"


@pytest.mark.parametrize(("attributes", "where", "words"), [
    ({"asa_class": 7}, "$.attributes.asa_class", ["asa_class is a whole number from 1 to 5", "found 7"]),
    ({"asa_class": "3"}, "$.attributes.asa_class", ["a whole number", "found '3'"]),
    ({"asa_class": True}, "$.attributes.asa_class", ["a whole number"]),
    ({"sex": "f"}, "$.attributes.sex", ["one of female, male", "found 'f'"]),
    ({"previous_surgery": "yes"}, "$.attributes.previous_surgery", ["true or false"]),
    ({"birth_date": "1950-02-03"}, "$.attributes.birth_date", ["declares no attribute 'birth_date'", "asa_class"]),
])
def test_a_bad_attribute_at_enrolment_is_422_with_its_path(client, keys, session, attributes, where, words):
    r = client.post(API, json=payload(attributes=attributes), headers=bearer(keys.system))
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["where"] == where and body["errors"][0]["path"] == where
    for word in words:
        assert word in body["detail"]
    assert session.exec(select(Episode)).all() == []


def test_a_batch_names_the_entry_of_a_bad_attribute(client, keys, session):
    batch = [payload("B-1", attributes={"sex": "male"}), payload("B-2"), payload("B-3", attributes={"urgency": "soon"})]
    r = client.post(f"{API}/batch", json=batch, headers=bearer(keys.system))
    assert r.status_code == 422, r.text
    assert [e["path"] for e in r.json()["errors"]] == ["$[2].attributes.urgency"]
    assert "one of elective, acute" in r.json()["errors"][0]["message"]
    assert session.exec(select(Episode)).all() == []


def test_a_value_of_the_wrong_json_type_is_400_with_its_path(client, keys):
    r = client.post(API, json=payload(attributes={"asa_class": 2.5}), headers=bearer(keys.system))
    assert r.status_code == 400 and "$.attributes" in r.json()["where"]


# ------------------------------------------------------------------ changed later by the system role


def test_a_change_sets_clears_and_keeps(client, keys, session):
    system = bearer(keys.system)
    assert client.post(API, json=payload(attributes=ATTRIBUTES), headers=system).status_code == 201
    r = client.put(f"{API}/HIP-1/attributes", json={"attributes": {"asa_class": 4, "urgency": None, "diagnosis": "dysplasia"}},
                   headers=system)
    assert r.status_code == 200, r.text
    expected = {k: v for k, v in ATTRIBUTES.items() if k != "urgency"} | {"asa_class": 4, "diagnosis": "dysplasia"}
    assert r.json() == {"external_id": "HIP-1", "attributes": expected}
    assert session.exec(select(Episode.attributes)).one() == expected
    # the enrolment as first sent still finds the episode
    assert client.post(API, json=payload(attributes=ATTRIBUTES), headers=system).status_code == 200
    actions = [(e.action, e.outcome) for e in session.exec(select(AuditEntry).order_by(AuditEntry.id))]
    assert ("episode.attributes", "ok") in actions


def test_a_bad_change_is_422_with_its_path_audited_and_changes_nothing(client, keys, session):
    system = bearer(keys.system)
    assert client.post(API, json=payload(attributes=ATTRIBUTES), headers=system).status_code == 201
    r = client.put(f"{API}/HIP-1/attributes", json={"attributes": {"asa_class": 3, "sex": "other"}}, headers=system)
    assert r.status_code == 422 and r.json()["where"] == "$.attributes.sex"
    assert session.exec(select(Episode.attributes)).one() == ATTRIBUTES
    audit = session.exec(select(AuditEntry).where(AuditEntry.action == "episode.attributes")).all()
    assert [(a.outcome, a.role) for a in audit] == [("invalid", "system")]


def test_only_the_system_role_changes_attributes(client, keys):
    assert client.post(API, json=payload(), headers=bearer(keys.system)).status_code == 201
    change = {"attributes": {"asa_class": 1}}
    assert client.put(f"{API}/HIP-1/attributes", json=change, headers=bearer(keys.registry)).status_code == 403
    assert client.put(f"{API}/HIP-1/attributes", json=change, headers=bearer(keys.analyst)).status_code == 403
    assert client.put(f"{API}/HIP-1/attributes", json=change, headers=bearer(keys.admin)).status_code == 200
    assert client.put(f"{API}/NOPE/attributes", json=change, headers=bearer(keys.system)).status_code == 404


# ------------------------------------------------------------------ exported


def test_the_export_has_attribute_columns_and_deceased_at(client, keys):
    system = bearer(keys.system)
    assert client.post(API, json=payload(attributes=ATTRIBUTES), headers=system).status_code == 201
    assert client.post(API, json=payload("HIP-2"), headers=system).status_code == 201
    client.put(f"{API}/HIP-2/delivery-flags", json={"deceased": True}, headers=system)
    text = client.get("/api/v1/registries/demo/export.csv", headers=bearer(keys.registry)).text
    header = text.splitlines()[0].split(",")
    attribute_columns = ["attr.sex", "attr.age_group", "attr.asa_class", "attr.urgency", "attr.previous_surgery", "attr.diagnosis"]
    assert header[6:16] == ["withdrawn_at", "deceased_at", *attribute_columns, "time_point", "status"]
    rows = {r["external_id"]: r for r in csv.DictReader(io.StringIO(text))}
    assert [rows["HIP-1"][c] for c in attribute_columns] == ["female", "70-79", "2", "elective", "false", ""]
    assert [rows["HIP-2"][c] for c in attribute_columns] == [""] * 6
    assert rows["HIP-1"]["deceased_at"] == "" and rows["HIP-2"]["deceased_at"].endswith("Z")
