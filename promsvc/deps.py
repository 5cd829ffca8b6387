"""Type aliases for the dependencies the app factory provides to every handler.

    def handler(db_session: DbSession, caller: CallerDep, settings: SettingsDep, registries: RegistriesDep): ...

Litestar matches dependencies by parameter name; these aliases also mark them as dependencies
explicitly (Litestar 3 will require that) so that they never show up as query parameters.
"""

from __future__ import annotations

from litestar.di import NamedDependency
from sqlmodel import Session

from promsvc.registries.loader import Registries
from promsvc.security import Caller
from promsvc.settings import Settings

DbSession = NamedDependency[Session]
CallerDep = NamedDependency[Caller]
SettingsDep = NamedDependency[Settings]
RegistriesDep = NamedDependency[Registries]  # with `.instruments`, the catalogue they ask
