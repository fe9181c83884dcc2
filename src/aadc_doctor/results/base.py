"""What every command's results share."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

JsonObject = Mapping[str, Any]  # JSON-ready data read from a file or another tool's report (not our own shape)
