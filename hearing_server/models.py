"""Imports every model module so that ``Base.metadata`` knows every table.

Alembic and the test fixtures import this module.
"""

from __future__ import annotations

from hearing_server import instances as instances_models
from hearing_server import shared as shared_models
from hearing_server.accounts import models as accounts_models
from hearing_server.audit import models as audit_models
from hearing_server.boards import models as boards_models
from hearing_server.cases import models as cases_models
from hearing_server.db import Base
from hearing_server.issuance import models as issuance_models
from hearing_server.issuance import search_index as issuance_search_index
from hearing_server.media import models as media_models
from hearing_server.notifications import models as notifications_models
from hearing_server.rooms import models as rooms_models
from hearing_server.scheduling import models as scheduling_models
from hearing_server.stats import models as stats_models
from hearing_server.voting import models as voting_models

__all__ = [
    "Base",
    "accounts_models",
    "audit_models",
    "boards_models",
    "cases_models",
    "instances_models",
    "issuance_models",
    "issuance_search_index",
    "media_models",
    "notifications_models",
    "rooms_models",
    "scheduling_models",
    "shared_models",
    "stats_models",
    "voting_models",
]
