"""Every command's results: frozen dataclasses, the one declaration of each JSON `results` shape (DESIGN.md).

One module per command (``results/check.py``...), as ``render/text/<command>.py``; ``from aadc_doctor.results
import CheckResults`` works for all of them and loads only that command's module (a run of `helpmsg` does not
build thirty dataclasses). `json_data.to_json_data` turns them into the report's JSON; the terminal renderers
(render/text/) and any later renderer read the same objects; ``field(metadata=json_meta(...))`` declares a JSON
exception (json_data.py). Domain types are imported for type checking only.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from aadc_doctor.results.base import JsonObject

if TYPE_CHECKING:
    from aadc_doctor.results.account import (
        AccountGraph as AccountGraph,
    )
    from aadc_doctor.results.account import (
        AccountProxy as AccountProxy,
    )
    from aadc_doctor.results.account import (
        AccountResults as AccountResults,
    )
    from aadc_doctor.results.account import (
        Errored as Errored,
    )
    from aadc_doctor.results.account import (
        Failed as Failed,
    )
    from aadc_doctor.results.account import (
        GraphAccount as GraphAccount,
    )
    from aadc_doctor.results.account import (
        GraphRoles as GraphRoles,
    )
    from aadc_doctor.results.account import (
        PtaAgents as PtaAgents,
    )
    from aadc_doctor.results.account import (
        PtaAgentSeen as PtaAgentSeen,
    )
    from aadc_doctor.results.account import (
        Skipped as Skipped,
    )
    from aadc_doctor.results.ad import (
        AdDcsResults as AdDcsResults,
    )
    from aadc_doctor.results.ad import (
        AdLogonResults as AdLogonResults,
    )
    from aadc_doctor.results.ad import (
        AdResults as AdResults,
    )
    from aadc_doctor.results.ad import (
        AdSsoResults as AdSsoResults,
    )
    from aadc_doctor.results.check import (
        CheckAuth as CheckAuth,
    )
    from aadc_doctor.results.check import (
        CheckProxy as CheckProxy,
    )
    from aadc_doctor.results.check import (
        CheckResults as CheckResults,
    )
    from aadc_doctor.results.collect import (
        CollectResults as CollectResults,
    )
    from aadc_doctor.results.demo import (
        DemoAccountRun as DemoAccountRun,
    )
    from aadc_doctor.results.demo import (
        DemoListResults as DemoListResults,
    )
    from aadc_doctor.results.demo import (
        DemoResults as DemoResults,
    )
    from aadc_doctor.results.demo import (
        DemoScenario as DemoScenario,
    )
    from aadc_doctor.results.demo import (
        DemoScenarioRun as DemoScenarioRun,
    )
    from aadc_doctor.results.explain import (
        ExplainResults as ExplainResults,
    )
    from aadc_doctor.results.helpmsg import (
        HelpmsgResults as HelpmsgResults,
    )
    from aadc_doctor.results.proxy import (
        DotnetConfigSource as DotnetConfigSource,
    )
    from aadc_doctor.results.proxy import (
        EnvironmentSource as EnvironmentSource,
    )
    from aadc_doctor.results.proxy import (
        PacSource as PacSource,
    )
    from aadc_doctor.results.proxy import (
        ProxyResults as ProxyResults,
    )
    from aadc_doctor.results.proxy import (
        ProxySource as ProxySource,
    )
    from aadc_doctor.results.proxy import (
        UnreadSource as UnreadSource,
    )
    from aadc_doctor.results.proxy import (
        WinhttpSource as WinhttpSource,
    )
    from aadc_doctor.results.proxylog import (
        ProxylogResults as ProxylogResults,
    )
    from aadc_doctor.results.pta import (
        HourReasonCount as HourReasonCount,
    )
    from aadc_doctor.results.pta import (
        PtaAgentGeneration as PtaAgentGeneration,
    )
    from aadc_doctor.results.pta import (
        PtaDcQueryResults as PtaDcQueryResults,
    )
    from aadc_doctor.results.pta import (
        PtaResults as PtaResults,
    )

# name -> the module that declares it
_MODULE_OF: dict[str, str] = {
    "AccountGraph": "account",
    "AccountProxy": "account",
    "AccountResults": "account",
    "AdDcsResults": "ad",
    "AdLogonResults": "ad",
    "AdResults": "ad",
    "AdSsoResults": "ad",
    "CheckAuth": "check",
    "CheckProxy": "check",
    "CheckResults": "check",
    "CollectResults": "collect",
    "DemoAccountRun": "demo",
    "DemoListResults": "demo",
    "DemoResults": "demo",
    "DemoScenario": "demo",
    "DemoScenarioRun": "demo",
    "DotnetConfigSource": "proxy",
    "EnvironmentSource": "proxy",
    "Errored": "account",
    "ExplainResults": "explain",
    "Failed": "account",
    "GraphAccount": "account",
    "GraphRoles": "account",
    "HelpmsgResults": "helpmsg",
    "HourReasonCount": "pta",
    "PacSource": "proxy",
    "ProxyResults": "proxy",
    "ProxySource": "proxy",
    "ProxylogResults": "proxylog",
    "PtaAgentGeneration": "pta",
    "PtaAgentSeen": "account",
    "PtaAgents": "account",
    "PtaDcQueryResults": "pta",
    "PtaResults": "pta",
    "Skipped": "account",
    "UnreadSource": "proxy",
    "WinhttpSource": "proxy",
}

__all__ = ["JsonObject", *_MODULE_OF]


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
