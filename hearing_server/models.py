"""Imports every model module so that ``Base.metadata`` knows every table.

Alembic and the test fixtures import this module; parts of the app add their
models here as they grow.
"""

from __future__ import annotations

from hearing_server.accounts import models as accounts_models
from hearing_server.audit import models as audit_models
from hearing_server.boards import models as boards_models
from hearing_server.db import Base

__all__ = ["Base", "accounts_models", "audit_models", "boards_models"]
