"""What every resolver gets: the database, the caller, per-request loaders, a request id."""

from __future__ import annotations

from dataclasses import dataclass, field

from strawberry.types import Info as StrawberryInfo

from domain.access import Forbidden, Permission, Principal
from domain.store.database import Database


@dataclass
class Context:
    db: Database
    principal: Principal | None  # None only while serving the GraphiQL page itself
    request_id: str
    loaders: object = field(default=None)  # api.loaders.Loaders, made per request
    # Tiers by id, filled by list resolvers that need them, so each row's tier resolves
    # without an await. None until a resolver fills it.
    prefetched_tiers: dict | None = None
    prefetched_identities: dict | None = None  # member id -> [Identity], likewise
    jobs: object = field(default=None)  # api.jobs.SimulationJobs, one per app
    connection_params: dict | None = None  # a websocket's connection_init payload

    @property
    def personal(self) -> bool:
        """May the caller read personal data (names, emails, phones, identities)?"""
        return self.principal is not None and self.principal.can(Permission.READ_PERSONAL_DATA)

    def require(self, permission: Permission) -> None:
        if self.principal is None:
            raise Forbidden("no API token")
        self.principal.require(permission)

    @property
    def actor(self) -> str:
        return self.principal.actor


type Info = StrawberryInfo[Context, None]
