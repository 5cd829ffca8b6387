"""Submission: one response per (invitation, instrument) enforced by the database, scores with
their provenance written with the responses in one transaction, or nothing at all."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
import sqlalchemy as sa
from litestar.testing import TestClient
from patient_fixtures import csrf, fetch, make_link, now
from patient_fixtures import submit_direct as _submit_direct
from sqlmodel import Session, select

import scoring
from promsvc.app import create_app
from promsvc.models import AuditEntry, Draft, Invitation, InvitationEvent, Response, Score, Status
from promsvc.patient import submission as patient_submission
from promsvc.registries import loader
from promsvc.responses import submission as responses
from promsvc.responses.writer import Arrival

EQ5D = {"MO": 2, "SC": 1, "UA": 3, "PD": 2, "AD": 1, "VAS": 70}


def _counts(engine):
    def read(s):
        return (
            len(s.exec(select(Response)).all()),
            len(s.exec(select(Score)).all()),
            len(s.exec(select(AuditEntry).where(AuditEntry.outcome == "ok")).all()),
        )
    return fetch(engine, read)


def test_the_database_refuses_a_second_response_to_the_same_instrument(engine, settings):
    token, inv = make_link(engine)
    _submit_direct(engine, settings, token, {"eq5d-5l": EQ5D})
    with Session(engine) as s:
        first = s.exec(select(Response).where(Response.invitation_id == inv, Response.instrument_id == "eq5d-5l")).one()
        s.add(Response(
            invitation_id=inv, episode_id=first.episode_id, registry_id="demo", instrument_id="eq5d-5l",
            instrument_version="1.0", answers={}, language="nb", channel="clinic", respondent="patient", started_at=now(),
        ))
        with pytest.raises(sa.exc.IntegrityError):
            s.commit()


def test_a_retry_that_slips_past_the_status_check_gets_the_stored_receipt(engine, settings, session):
    token, inv = make_link(engine)
    first, created = _submit_direct(engine, settings, token, {"eq5d-5l": EQ5D})
    assert created
    # Make the invitation look unanswered, as a concurrent request would have seen it:
    # the unique constraint is what stops the second insert.
    invitation = session.get(Invitation, inv)
    invitation.status = Status.started
    session.add(invitation)
    session.commit()
    before = _counts(engine)
    receipt, created = _submit_direct(engine, settings, token, {"eq5d-5l": {"MO": 5}})
    assert not created and receipt == first
    assert _counts(engine) == before
    assert fetch(engine, lambda s: s.get(Invitation, inv)).status == Status.started  # rolled back


def test_two_submissions_at_the_same_moment_store_one(engine, settings):
    token, inv = make_link(engine)
    barrier = threading.Barrier(2)
    results, failures = [], []

    def run():
        registries = loader.load_all(settings)
        try:
            barrier.wait()
            results.append(patient_submission.submit_now(engine, registries, token, {"eq5d-5l": EQ5D}, language="nb",
                                                         respondent="patient", now=now()))
        except Exception as e:  # pragma: no cover - reported below
            failures.append(e)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not failures, failures
    assert sorted(created for _, created in results) == [False, True]
    assert results[0][0] == results[1][0]
    rows = fetch(engine, lambda s: s.exec(select(Response).where(Response.invitation_id == inv)).all())
    assert sorted(r.instrument_id for r in rows) == ["eq5d-5l", "rand36"]


def test_a_failure_while_storing_leaves_nothing_half_written(app, client, engine, monkeypatch):
    token, inv = make_link(engine)
    assert client.put(f"/api/v1/forms/{token}/draft", json={"answers": {"eq5d-5l": EQ5D}}).status_code == 200
    calls = []

    def broken(*args, **kwargs):
        # the first response has been inserted (flushed) when its scoring is called
        calls.append(kwargs.get("scoring"))
        raise RuntimeError("scoring failed")

    monkeypatch.setattr(scoring, "score_one", broken)  # what a submission scores with
    r = client.post(f"/api/v1/forms/{token}/submit", json={})
    assert r.status_code == 500 and calls
    assert "scoring failed" not in r.text
    assert _counts(engine) == (0, 0, 0)
    assert fetch(engine, lambda s: s.get(Invitation, inv)).status == Status.started
    assert fetch(engine, lambda s: s.get(Draft, inv)).answers == {"eq5d-5l": EQ5D}

    # the HTML page says so in plain words, and nothing is stored either
    q = f"/q/{token}"
    review = client.get(f"{q}/review")
    r = client.post(f"{q}/submit", data={"csrf_token": csrf(review.text)})
    assert r.status_code == 500 and "Noe gikk galt" in r.text
    assert _counts(engine) == (0, 0, 0)

    monkeypatch.undo()
    assert client.post(f"/api/v1/forms/{token}/submit", json={}).status_code == 201
    assert _counts(engine) == (2, 3, 1)  # eq5d-5l index; rand36 rand and sf36v1


def test_a_failure_after_the_first_response_insert_is_rolled_back(engine, settings, monkeypatch):
    """The score rows are refused by the database (NULL in a NOT NULL column) after the responses
    are written (SQLite: the statement after; PostgreSQL: the same statement's next step):
    nothing of the submission stays, and the link still takes answers."""
    token, inv = make_link(engine)
    real = responses._score_row

    def unstorable(*args, **kwargs):
        return {**real(*args, **kwargs), "scoring": None}

    monkeypatch.setattr(responses, "_score_row", unstorable)
    statements = []

    def seen(conn, cursor, statement, parameters, context, executemany):
        statements.append(" ".join(statement.split()))

    sa.event.listen(engine, "before_cursor_execute", seen)
    try:
        with pytest.raises(sa.exc.IntegrityError):
            _submit_direct(engine, settings, token, {"eq5d-5l": EQ5D, "rand36": {"q1": 1}})
    finally:
        sa.event.remove(engine, "before_cursor_execute", seen)
    # the responses' INSERT ran before the one that failed (or in the same statement)
    assert any("INSERT INTO response (" in s for s in statements)
    assert _counts(engine) == (0, 0, 0)
    assert fetch(engine, lambda s: s.get(Invitation, inv)).status == Status.open


def test_no_score_is_stored_as_null_with_its_provenance(engine, settings):
    token, inv = make_link(engine)
    _submit_direct(engine, settings, token, {"eq5d-5l": {"MO": 1, "SC": 1}})  # missing dimensions: no index

    def read(s):
        return {
            (r.instrument_id, sc.scoring): sc
            for r in s.exec(select(Response).where(Response.invitation_id == inv))
            for sc in s.exec(select(Score).where(Score.response_id == r.id))
        }

    scores = fetch(engine, read)
    index = scores[("eq5d-5l", "index")]
    assert index.values == {"index": None}
    assert (index.instrument_version, index.scoring_version, index.value_set) == ("1.0", "1.0", "EQ-5D-5L · VT · Norway")
    rand = scores[("rand36", "rand")]
    assert set(rand.values) == {"pf", "rp", "bp", "gh", "vt", "sf", "re", "mh"}
    assert all(v is None for v in rand.values.values()) and rand.value_set is None
    assert set(scores[("rand36", "sf36v1")].values) >= {"pcs", "mcs"}
    with engine.connect() as c:  # JSON null in the database, never NaN
        raw = c.execute(sa.text("SELECT CAST(\"values\" AS TEXT) FROM score")).scalars().all()
    assert all("NaN" not in v for v in raw)


def test_the_protocol_chooses_the_value_set(make_settings, engine, tmp_path):
    folder = tmp_path / "registries"
    folder.mkdir()
    (folder / "uk.yaml").write_text("""
id: ukreg
name: {nb: UK-register, nn: UK-register, en: UK registry}
sender: UK registry
demo: true
units: [{id: uk-hospital, name: UK hospital, level: hospital}]
protocols:
  - id: knee
    title: {nb: Kne, nn: Kne, en: Knee}
    event: knee replacement
    time_points:
      - {id: m6, title: {nb: 6 mnd, nn: 6 mnd, en: 6 months}, offset: P182D, window: P60D, instruments: [eq5d-5l]}
    instruments:
      - {instrument: eq5d-5l, method: CW, country: UK}
    channels: [clinic]
""", encoding="utf-8")
    settings = make_settings(registries_dir=str(folder))
    token, inv = make_link(engine, registry="ukreg", protocol="knee", time_point="m6")
    with TestClient(create_app(settings), base_url="http://testserver.local") as c:
        assert c.post(f"/api/v1/forms/{token}/submit", json={"answers": {"eq5d-5l": {"MO": 5, "SC": 5, "UA": 5, "PD": 5, "AD": 5}}}).status_code == 201
    score = fetch(engine, lambda s: s.exec(select(Score)).one())
    assert score.value_set == "EQ-5D-5L · CW · UK"
    assert score.values["index"] == pytest.approx(-0.594, abs=5e-4)


def _arrival(token, answers=None, respondent=None):
    return Arrival(token=token, answers=answers or {"eq5d-5l": EQ5D}, language=None, respondent=respondent, at=now())


def _take_together(engine, settings, arrivals, turns_apart: int = 0) -> tuple[list, int]:
    """Hand `arrivals` to a new writer at once (or the i-th after i × `turns_apart` turns of
    the loop), on one event loop: each one's outcome (a receipt or None), and how many
    transactions were committed."""
    import asyncio
    import functools

    from promsvc.responses.writer import Writer

    commits = []

    def count(conn, cursor, statement, *args):
        # A COMMIT, or on PostgreSQL the one statement of `store` outside a transaction
        # (autocommit), which commits itself.
        alone = statement is responses._STORE_POSTGRESQL and not _in_transaction(cursor.connection)
        commits.extend([1] if statement.strip().upper() == "COMMIT" or alone else [])

    async def run():
        writer = Writer(engine, functools.partial(patient_submission.prepare_arrivals, loader.load_all(settings)))

        async def take(i, arrival):
            for _ in range(i * turns_apart):
                await asyncio.sleep(0)
            return await writer.take(arrival)

        try:
            return await asyncio.gather(*(take(i, a) for i, a in enumerate(arrivals)))
        finally:
            await writer.close()

    sa.event.listen(engine, "after_cursor_execute", count)  # after: statements that succeeded
    try:
        return asyncio.run(run()), len(commits)
    finally:
        sa.event.remove(engine, "after_cursor_execute", count)


def _in_transaction(dbapi_connection) -> bool:
    import psycopg

    return dbapi_connection.info.transaction_status != psycopg.pq.TransactionStatus.IDLE


def test_group_commit_a_failing_submission_does_not_take_the_others_down(engine, settings, session):
    (t1, i1), (t2, i2), (t3, i3) = make_link(engine), make_link(engine), make_link(engine)
    _submit_direct(engine, settings, t2, {"eq5d-5l": EQ5D})
    # t2 looks unanswered again, so its second submission passes the status guard and is
    # stopped by the unique constraint, inside the same transaction as the two others.
    invitation = session.get(Invitation, i2)
    invitation.status = Status.started
    session.add(invitation)
    session.commit()
    results, commits = _take_together(engine, settings, [_arrival(t) for t in (t1, t2, t3)])
    assert [r is not None for r in results] == [True, False, True]  # t2 takes the full path
    assert commits == 1
    stored = fetch(engine, lambda s: {r.invitation_id for r in s.exec(select(Response)).all()})
    assert stored == {i1, i2, i3}
    statuses = fetch(engine, lambda s: {i: s.get(Invitation, i).status for i in (i1, i2, i3)})
    assert statuses == {i1: Status.completed, i2: Status.started, i3: Status.completed}  # i2's change rolled back


def test_group_commit_many_at_once_each_stored_once_in_one_transaction(engine, settings):
    made = [make_link(engine) for _ in range(12)]
    tokens = [t for t, _ in made] + [t for t, _ in made[:4]]  # four sent twice (a retry): stored once
    results, commits = _take_together(engine, settings, [_arrival(t) for t in tokens])
    assert [r is not None for r in results] == [True] * 12 + [False] * 4
    assert commits == 1
    assert _counts(engine) == (24, 36, 12)  # eq5d-5l and rand36 responses; index, rand and sf36v1 scores; audit rows


def test_arrivals_a_few_loop_turns_apart_join_one_batch(engine, settings):
    """Requests reach the writer a few turns of the event loop after their bytes arrive; the
    writer waits that long before it takes a batch (writer.GATHER_TURNS)."""
    tokens = [make_link(engine)[0] for _ in range(4)]
    results, commits = _take_together(engine, settings, [_arrival(t) for t in tokens], turns_apart=1)
    assert all(r is not None for r in results)
    assert commits == 1
    assert _counts(engine) == (8, 12, 4)


def test_what_a_batch_stores_of_a_submission_has_one_time(engine, settings):
    """Arrivals received a second apart and stored in one batch: each invitation's status time,
    its completion event and its responses' submission time are one time (the batch's), which
    the indicator reader takes a time point's submission time from (promsvc.indicators.dbread)."""
    made = [make_link(engine) for _ in range(3)]
    received = now() - dt.timedelta(seconds=10)
    arrivals = [Arrival(token=t, answers={"eq5d-5l": EQ5D}, language=None, respondent=None, at=received + dt.timedelta(seconds=k))
                for k, (t, _) in enumerate(made)]
    results, commits = _take_together(engine, settings, arrivals)
    assert all(r is not None for r in results) and commits == 1

    def times(s, invitation_id):
        invitation = s.get(Invitation, invitation_id)
        event = s.exec(select(InvitationEvent).where(InvitationEvent.invitation_id == invitation_id,
                                                     InvitationEvent.status == Status.completed)).one()
        submitted = {r.submitted_at for r in s.exec(select(Response).where(Response.invitation_id == invitation_id))}
        return invitation.status_at, event.at, submitted

    for _, invitation_id in made:
        status_at, event_at, submitted = fetch(engine, lambda s: times(s, invitation_id))  # noqa: B023  # called at once
        assert status_at == event_at == received + dt.timedelta(seconds=2) and submitted == {status_at}


def test_on_postgresql_one_statement_writes_what_a_statement_per_table_writes(engine, settings):
    """`store` on PostgreSQL is one statement fed with JSON (responses.submission); every other
    database runs a statement per table. Both must write the same rows."""
    if engine.dialect.name != "postgresql":
        pytest.skip("the one-statement store is PostgreSQL's (SQLite has no data-modifying CTEs)")
    registries = loader.load_all(settings)
    at = now()
    (one, i_one), (each, i_each) = make_link(engine), make_link(engine)
    with Session(engine) as s:  # a draft each, which gives the responses' start time and which the store deletes
        s.add_all([Draft(invitation_id=i, answers={}, language="nb", started_at=at - dt.timedelta(minutes=5)) for i in (i_one, i_each)])
        s.commit()
    answers = {"eq5d-5l": EQ5D, "rand36": {"q1": 2, "q2": 3, "q20": None}}
    with engine.connect() as c:
        prepared = patient_submission.prepare_arrivals(registries, c, [
            Arrival(token=t, answers=answers, language="en", respondent="proxy", at=at) for t in (one, each)])
        assert responses.store(c, [prepared[0]]) == [True]
        assert responses._store_each_table(c, [prepared[1]], at) == {i_each}
        c.commit()

    def written(s, invitation_id):
        invitation = s.get(Invitation, invitation_id)
        rows = sorted(s.exec(select(Response).where(Response.invitation_id == invitation_id)).all(), key=lambda r: r.instrument_id)
        score_rows = [sorted((sc.model_dump(exclude={"id", "response_id"}) for sc in s.exec(select(Score).where(Score.response_id == r.id))),
                             key=lambda d: d["scoring"]) for r in rows]
        events = s.exec(select(InvitationEvent).where(InvitationEvent.invitation_id == invitation_id,
                                                     InvitationEvent.status == Status.completed)).all()
        audits = s.exec(select(AuditEntry).where(AuditEntry.episode_id == invitation.episode_id)).all()
        return {
            "invitation": (invitation.status, invitation.status_at),
            "responses": [r.model_dump(exclude={"id", "invitation_id", "episode_id"}) for r in rows],
            "scores": score_rows,
            "events": [e.model_dump(exclude={"id", "invitation_id"}) for e in events],
            "audit": sorted(tuple(a.model_dump(exclude={"id", "episode_id"}).items()) for a in audits),
            "draft": s.get(Draft, invitation_id),
        }

    by_statement, by_table = fetch(engine, lambda s: (written(s, i_one), written(s, i_each)))
    assert by_statement == by_table
    assert by_statement["invitation"] == (Status.completed, at) and by_statement["draft"] is None
    assert [r["respondent"] for r in by_statement["responses"]] == ["proxy", "proxy"]
    assert by_statement["responses"][0]["started_at"] == at - dt.timedelta(minutes=5)
    assert len(by_statement["scores"][1]) == 2 and by_statement["events"] == [{"status": Status.completed, "at": at, "note": None}]


def test_arrivals_are_read_checked_scored_and_stored_together_or_sent_the_full_way(engine, settings):
    """What can be stored as it arrived gets its receipt; anything else gets None, and its
    request takes the full path (promsvc.responses.writer)."""
    (ok1, i1), (ok2, i2) = make_link(engine), make_link(engine)
    expired, _ = make_link(engine, expires_in=-dt.timedelta(seconds=1))
    no_proxy, _ = make_link(engine, registry="other", protocol="knee", time_point="m6")
    invalid, i_invalid = make_link(engine)
    arrivals = [_arrival(ok1), _arrival("C" * 43), _arrival(expired), _arrival(no_proxy, respondent="proxy"),
                _arrival(invalid, {"eq5d-5l": {"MO": 9}}), _arrival(ok2), _arrival(ok1)]  # ok1 twice: a second tab
    results, _ = _take_together(engine, settings, arrivals)
    assert [r is not None for r in results] == [True, False, False, False, False, True, False]
    assert results[0].instruments == ["eq5d-5l", "rand36"]
    stored = fetch(engine, lambda s: sorted({r.invitation_id for r in s.exec(select(Response)).all()}))
    assert stored == sorted([i1, i2])
    assert fetch(engine, lambda s: s.get(Invitation, i_invalid)).status == Status.open


def test_when_the_writer_fails_every_request_takes_the_full_path_and_the_next_batch_works(engine, settings):
    import asyncio

    from promsvc.responses.writer import Writer

    (t1, i1), (t2, i2) = make_link(engine), make_link(engine)
    failures = [RuntimeError("the database went away")]

    def resolve(connection, arrivals):
        if failures:
            raise failures.pop()
        return patient_submission.prepare_arrivals(loader.load_all(settings), connection, arrivals)

    async def run():
        writer = Writer(engine, resolve)
        try:
            first = await asyncio.gather(writer.take(_arrival(t1)), writer.take(_arrival(t2)))
            again = await writer.take(_arrival(t1))
            return first, again
        finally:
            await writer.close()

    first, again = asyncio.run(run())
    assert first == [None, None]  # unstored: their requests take the full path
    assert again is not None
    assert fetch(engine, lambda s: s.get(Invitation, i1)).status == Status.completed
    assert fetch(engine, lambda s: s.get(Invitation, i2)).status == Status.open


def test_the_writer_waits_for_another_processs_sqlite_lock_without_stopping_the_loop(engine, settings):
    import asyncio
    import functools

    from promsvc.responses.writer import Writer

    if engine.dialect.name != "sqlite":
        pytest.skip("SQLite's write lock only: PostgreSQL has no database-wide write lock")
    token, inv = make_link(engine)
    other = sa.create_engine(engine.url, poolclass=sa.pool.NullPool).raw_connection()  # as another process would
    other.isolation_level = None
    other.execute("BEGIN IMMEDIATE")

    async def run():
        writer = Writer(engine, functools.partial(patient_submission.prepare_arrivals, loader.load_all(settings)))
        taken = asyncio.ensure_future(writer.take(_arrival(token)))
        ticks = 0
        while ticks < 20:  # the loop goes on while the writer waits for the lock
            await asyncio.sleep(0.005)
            ticks += 1
        assert not taken.done()
        other.execute("COMMIT")
        receipt = await taken
        await writer.close()
        return receipt

    try:
        assert asyncio.run(run()) is not None
    finally:
        other.close()
    assert fetch(engine, lambda s: s.get(Invitation, inv)).status == Status.completed


def test_the_writer_gives_up_on_a_sqlite_lock_held_too_long_and_sends_the_request_the_full_way(engine, settings, monkeypatch):
    import asyncio
    import functools

    from promsvc.responses import writer as writer_module

    if engine.dialect.name != "sqlite":
        pytest.skip("SQLite's write lock only: PostgreSQL has no database-wide write lock")
    monkeypatch.setattr(writer_module, "LOCK_TIMEOUT", 0.05)  # 10 s in service
    token, inv = make_link(engine)
    other = sa.create_engine(engine.url, poolclass=sa.pool.NullPool).raw_connection()  # as another process would
    other.isolation_level = None
    other.execute("BEGIN IMMEDIATE")

    tries = []

    def count(conn, cursor, statement, *args):
        tries.extend([1] if statement == "BEGIN IMMEDIATE" else [])

    async def run():
        writer = writer_module.Writer(engine, functools.partial(patient_submission.prepare_arrivals, loader.load_all(settings)))
        gave_up = await asyncio.wait_for(writer.take(_arrival(token)), timeout=10)
        other.execute("COMMIT")
        stored = await writer.take(_arrival(token))  # the writer works again once the lock is free
        await writer.close()
        return gave_up, stored

    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        gave_up, stored = asyncio.run(run())
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)
        other.close()
    assert gave_up is None  # the request takes the full path
    assert len(tries) > 2  # it tried again, then gave up
    assert stored is not None
    assert fetch(engine, lambda s: s.get(Invitation, inv)).status == Status.completed


def test_answers_in_the_body_for_a_gone_or_expired_link_get_the_full_paths_answer(client, engine):
    expired, inv = make_link(engine, expires_in=-dt.timedelta(seconds=1))
    r = client.post(f"/api/v1/forms/{expired}/submit", json={"answers": {"eq5d-5l": EQ5D}})
    assert r.status_code == 410 and "expired" in r.json()["detail"]
    assert fetch(engine, lambda s: s.get(Invitation, inv)).status == Status.expired
    token, _ = make_link(engine)
    body = {"answers": {"eq5d-5l": EQ5D}}
    first = client.post(f"/api/v1/forms/{token}/submit", json=body)
    again = client.post(f"/api/v1/forms/{token}/submit", json=body)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()


def test_a_row_lock_held_by_another_transaction_does_not_stop_the_loop(engine, settings):
    """PostgreSQL: the writer runs its statements on the event loop, with a lock_timeout. While
    another transaction holds the invitation's row (a draft being saved, a job expiring it),
    the writer gives up and the submission takes the full path, which waits in a worker thread
    while the loop goes on; once the lock is released, the answers are stored."""
    import asyncio
    import functools
    from types import SimpleNamespace

    from promsvc.responses.writer import Writer

    if engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL's row locks (SQLite's write lock: the two tests above)")
    token, inv = make_link(engine)
    registries = loader.load_all(settings)
    holder = engine.connect()
    # If the writer waited for the lock, the test would hang: the server ends this transaction
    # after 20 s instead, and the writer's answer then shows that it waited.
    holder.execute(sa.text("SET idle_in_transaction_session_timeout = '20s'"))
    holder.execute(sa.text("SELECT id FROM invitation WHERE id = :id FOR UPDATE"), {"id": inv})

    async def run():
        writer = Writer(engine, functools.partial(patient_submission.prepare_arrivals, registries))
        state = SimpleNamespace(engine=engine, registries=registries, writer=writer)
        try:
            gave_up = await writer.take(_arrival(token))
            submitted = asyncio.ensure_future(patient_submission.submit(
                state, token, {"eq5d-5l": EQ5D}, language=None, respondent=None))
            ticks = 0
            while ticks < 20:  # the loop goes on while the full path waits for the lock
                await asyncio.sleep(0.005)
                ticks += 1
            waiting = not submitted.done()
            holder.rollback()
            return gave_up, waiting, await submitted
        finally:
            await writer.close()

    try:
        gave_up, waiting, (receipt, created) = asyncio.run(run())
    finally:
        holder.close()
    assert gave_up is None  # the writer did not wait for the lock: the request takes the full path
    assert waiting  # the full path waited for the lock, off the loop
    assert created and receipt.instruments == ["eq5d-5l", "rand36"]
    assert fetch(engine, lambda s: s.get(Invitation, inv)).status == Status.completed
