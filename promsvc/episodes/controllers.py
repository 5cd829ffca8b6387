"""HTTP endpoints of episodes: parse, check access, call one service, return its schema.

Handlers are sync and run in a worker thread (`sync_to_thread=True`), as everywhere in promsvc.
"""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, Request, Response, get, post, put
from litestar.params import FromPath, JSONBody, QueryParameter
from litestar.response import Stream

from promsvc.deps import CallerDep, DbSession, RegistriesDep, SettingsDep
from promsvc.episodes import attributes, links, reading, services, withdrawal
from promsvc.episodes.export import export_csv, start_export
from promsvc.episodes.schemas import BatchOut, EnrolBatchIn, EnrolIn, EpisodeDetailOut, EpisodeOut, LinkOut, WithdrawIn


class EpisodeController(Controller):
    path = "/registries/{registry:str}/episodes"
    tags = ["episodes"]

    @post("/", sync_to_thread=True, summary="Enrol an episode",
          description="Idempotent on (registry, external id): 201 when enrolled now, 200 with the same episode when "
                      "enrolled before with the same fields, 409 when enrolled before with other fields. Role system.")
    def enrol(self, registry: FromPath[str], data: JSONBody[EnrolIn], db_session: DbSession, caller: CallerDep, registries: RegistriesDep,
              settings: SettingsDep) -> Response[EpisodeOut]:
        reg = services.registry_for(db_session, caller, registries, registry, "episode.enrol", services.ENROL_ROLES)
        out, created = services.enrol(db_session, caller, reg, data, settings)
        return Response(out, status_code=201 if created else 200,
                        headers={"Location": f"/api/v1/registries/{reg.id}/episodes/{out.external_id}"})

    @post("/batch", sync_to_thread=True, summary="Enrol many episodes, all or nothing",
          description="Each entry as for one enrolment. If any entry is refused nothing is enrolled, and every "
                      "problem is reported with its entry's path (`$[3].unit`). Role system.")
    def enrol_batch(self, registry: FromPath[str], data: JSONBody[EnrolBatchIn], db_session: DbSession, caller: CallerDep,
                    registries: RegistriesDep, settings: SettingsDep) -> Response[BatchOut]:
        reg = services.registry_for(db_session, caller, registries, registry, "episode.enrol", services.ENROL_ROLES)
        out = services.enrol_batch(db_session, caller, reg, data, settings)
        return Response(out, status_code=201 if out.created else 200)

    @get("/{external_id:str}", sync_to_thread=True, summary="Read an episode",
         description="Time points, invitation statuses with their history, responses and current scores. "
                     "Role registry (own registry). Audited.")
    def read(self, registry: FromPath[str], external_id: FromPath[str], db_session: DbSession, caller: CallerDep,
             registries: RegistriesDep) -> EpisodeDetailOut:
        reg = services.registry_for(db_session, caller, registries, registry, "episode.read", services.READ_ROLES)
        return reading.read(db_session, caller, reg, external_id)

    @post("/{external_id:str}/withdraw", sync_to_thread=True, status_code=200, summary="Withdraw an episode",
          description="Pending invitations become withdrawn and their links stop working; the reason is kept; "
                      "contact details are deleted. Withdrawing twice gives 409. Role system or registry.")
    def withdraw(self, registry: FromPath[str], external_id: FromPath[str], data: JSONBody[WithdrawIn], db_session: DbSession, caller: CallerDep,
                 registries: RegistriesDep) -> EpisodeOut:
        reg = services.registry_for(db_session, caller, registries, registry, "episode.withdraw", services.WITHDRAW_ROLES)
        return withdrawal.withdraw(db_session, caller, reg, external_id, data.reason)

    @put("/{external_id:str}/attributes", sync_to_thread=True, summary="Change an episode's attributes",
         description="`{\"attributes\": {…}}`: each attribute given is set, `null` clears one, those left out are "
                     "kept. Values as the protocol declares them; a value it does not accept gives 422 naming "
                     "`$.attributes.{id}`, and nothing is changed. Role system. Audited.")
    def set_attributes(self, registry: FromPath[str], external_id: FromPath[str], data: JSONBody[attributes.AttributesIn],
                       db_session: DbSession, caller: CallerDep, registries: RegistriesDep) -> attributes.AttributesOut:
        reg = services.registry_for(db_session, caller, registries, registry, "episode.attributes", attributes.UPDATE_ROLES)
        episode = services.episode_for(db_session, caller, reg, external_id, "episode.attributes")
        return attributes.update(db_session, caller, reg, episode, data)

    @post("/{external_id:str}/time-points/{time_point:str}/link", sync_to_thread=True, status_code=201,
          summary="Issue a patient link now (in clinic)",
          description="A new random token; only its hash is stored and the previous link of this time point stops "
                      "working. Returns `{base_url}/q/{token}` once. Role system.")
    def issue_link(self, registry: FromPath[str], external_id: FromPath[str], time_point: FromPath[str], db_session: DbSession, caller: CallerDep,
                   registries: RegistriesDep, settings: SettingsDep) -> LinkOut:
        reg = services.registry_for(db_session, caller, registries, registry, "link.issue", services.LINK_ROLES)
        return links.issue_link(db_session, caller, reg, external_id, time_point, settings)


class ExportController(Controller):
    path = "/registries/{registry:str}"
    tags = ["export"]

    @get("/export.csv", sync_to_thread=True, media_type="text/csv; charset=utf-8",
         summary="Export answers and scores as CSV",
         description="One row per episode × time point: invitation status, response times, answers "
                     "(`instrument.item`) and current scores (`instrument.score`). Role registry (own registry). Audited.")
    def export(self, request: Request, registry: FromPath[str], db_session: DbSession, caller: CallerDep, registries: RegistriesDep,
               protocol: Annotated[str | None, QueryParameter(description="Only episodes of this protocol.")] = None) -> Stream:
        reg = services.registry_for(db_session, caller, registries, registry, "responses.export", services.EXPORT_ROLES)
        start_export(db_session, caller, reg, protocol)
        return Stream(export_csv(request.app.state.engine, reg, protocol, catalogue=registries.instruments), media_type="text/csv; charset=utf-8",
                      headers={"Content-Disposition": f'attachment; filename="{reg.id}-export.csv"'})



