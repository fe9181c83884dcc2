"""Step 3: read what the wizard and PTA registration check, with plain REST calls to Microsoft Graph.

Every read is independent: one failing call (a 403 for a missing permission, a 5xx) becomes that
check's finding, never the end of the run. Paths and shapes follow the Graph reference:
user-get, user-list-memberof, user-list-transitivememberof, rbacapplication-list-roleeligibilityscheduleinstances
(filterByCurrentUser), organization-list, domain-list, onpremisesagent-list (beta).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit

from aadc_doctor.account.models import (
    Agent,
    CallFailure,
    DirectoryUser,
    Domain,
    GraphEvidence,
    Outcome,
    RoleRef,
)
from aadc_doctor.account.signin import AccessToken
from aadc_doctor.net.http_client import DoctorSession, HttpFailure
from aadc_doctor.net.outcome import Outcome as CallOutcome

T = TypeVar("T")
MAX_PAGES = 20

ME = "/v1.0/me?$select=id,userPrincipalName,displayName,onPremisesSyncEnabled,accountEnabled,userType"
DIRECT_ROLES = "/v1.0/me/memberOf/microsoft.graph.directoryRole?$select=id,displayName,roleTemplateId"
TRANSITIVE_ROLES = "/v1.0/me/transitiveMemberOf/microsoft.graph.directoryRole?$select=id,displayName,roleTemplateId"
ELIGIBLE_ROLES = "/v1.0/roleManagement/directory/roleEligibilityScheduleInstances/filterByCurrentUser(on='principal')"
ORGANIZATION = "/v1.0/organization?$select=id,displayName,verifiedDomains,onPremisesSyncEnabled"
DOMAINS = "/v1.0/domains"
PTA_AGENTS = "/beta/onPremisesPublishingProfiles/authentication/agents"


class GraphClient:
    """GET with the bearer token, following @odata.nextLink; errors become CallFailure."""

    def __init__(self, session: DoctorSession, graph_host: str, token: AccessToken, base: str | None = None) -> None:
        self._session = session
        self._base = base or f"https://{graph_host}"
        self._token = token

    def url(self, path: str) -> str:
        return self._base + path

    def get(self, path: str) -> list[dict[str, Any]] | dict[str, Any] | CallFailure:
        """A single object, or the concatenated ``value`` of every page."""
        url: str | None = self.url(path)
        items: list[dict[str, Any]] = []
        for _ in range(MAX_PAGES):
            if url is None:
                break
            answer = self._get_once(url)
            if isinstance(answer, CallFailure):
                return answer
            if "value" not in answer:
                return answer
            items.extend(v for v in answer["value"] if isinstance(v, dict))
            next_link = answer.get("@odata.nextLink")
            url = str(next_link) if next_link else None
            if url is not None and _host(url) != _host(self._base):  # the bearer token goes with every page
                return CallFailure(url=self.url(path), outcome=CallOutcome.HTTP_ERROR, status=200,
                                   message=f"the next page is on another host ({_host(url) or url[:80]}); "
                                           "not followed with the sign-in token")
        return items

    def _get_once(self, url: str) -> dict[str, Any] | CallFailure:
        try:
            response = self._session.get(url, headers={"Authorization": self._token.authorization_header(),
                                                       "Accept": "application/json"})
        except HttpFailure as failure:
            return CallFailure(url=url, outcome=failure.outcome, message=failure.message)
        try:
            body = json.loads(response.text) if response.text else {}
        except ValueError:
            body = None
        if response.status_code != 200 or not isinstance(body, dict):
            return _graph_failure(url, response.status_code, body)
        return body


def _host(url: str) -> str:
    try:
        return urlsplit(url).netloc.lower()
    except ValueError:
        return ""


def _graph_failure(url: str, status: int, body: Any) -> CallFailure:
    """Graph's error shape: {"error": {"code", "message", "innerError": {"request-id", "date"}}}."""
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        inner = error.get("innerError") or error.get("innererror") or {}
        code = str(error.get("code") or "")
        message = str(error.get("message") or "").strip() or "(no message)"
        request_id = str(inner.get("request-id") or "") if isinstance(inner, dict) else ""
        return CallFailure(url=url, outcome=CallOutcome.HTTP_ERROR, status=status, code=code,
                           message=f"HTTP {status} {code}: {message}", request_id=request_id)
    return CallFailure(url=url, outcome=CallOutcome.HTTP_ERROR, status=status,
                       message=f"HTTP {status} (not a Graph error body)")


def _read(client: GraphClient, path: str, convert: Callable[[Any], T]) -> Outcome[T]:
    answer = client.get(path)
    if isinstance(answer, CallFailure):
        return Outcome(failure=answer)
    try:
        return Outcome(value=convert(answer))
    except (KeyError, TypeError, ValueError) as exc:
        return Outcome(failure=CallFailure(url=client.url(path), outcome=CallOutcome.HTTP_ERROR, status=200,
                                           message=f"unexpected answer shape: {type(exc).__name__} {exc}"))


def _user(body: Any) -> DirectoryUser:
    return DirectoryUser(
        id=str(body["id"]),
        user_principal_name=str(body.get("userPrincipalName") or ""),
        display_name=str(body.get("displayName") or ""),
        on_premises_sync_enabled=body.get("onPremisesSyncEnabled"),
        account_enabled=body.get("accountEnabled"),
        user_type=str(body.get("userType") or ""),
    )


def _roles(items: Any) -> tuple[RoleRef, ...]:
    return tuple(RoleRef(template_id=str(i.get("roleTemplateId") or "").lower(), name=str(i.get("displayName") or ""))
                 for i in items)


def _eligible(items: Any) -> tuple[RoleRef, ...]:
    # roleDefinitionId of a built-in role is its template id
    return tuple(RoleRef(template_id=str(i["roleDefinitionId"]).lower(), name="") for i in items
                 if str(i.get("directoryScopeId") or "/") == "/")


def _organization(items: Any) -> dict[str, Any]:
    org = items[0] if isinstance(items, list) else items
    return {"id": str(org["id"]), "display_name": str(org.get("displayName") or "")}


def _domains(items: Any) -> tuple[Domain, ...]:
    return tuple(Domain(name=str(i["id"]).lower(), is_verified=bool(i.get("isVerified")),
                        authentication_type=str(i.get("authenticationType") or ""),
                        is_default=bool(i.get("isDefault"))) for i in items)


def _agents(items: Any) -> tuple[Agent, ...]:
    return tuple(Agent(id=str(i.get("id") or ""), machine_name=str(i.get("machineName") or ""),
                       external_ip=str(i.get("externalIp") or ""), status=str(i.get("status") or "").lower(),
                       publishing_types=tuple(str(t) for t in i.get("supportedPublishingTypes") or ()))
                 for i in items)


def read_graph(client: GraphClient) -> GraphEvidence:
    """Each read on its own: the report shows what could and could not be checked."""
    return GraphEvidence(
        me=_read(client, ME, _user),
        direct_roles=_read(client, DIRECT_ROLES, _roles),
        transitive_roles=_read(client, TRANSITIVE_ROLES, _roles),
        eligible_roles=_read(client, ELIGIBLE_ROLES, _eligible),
        organization=_read(client, ORGANIZATION, _organization),
        domains=_read(client, DOMAINS, _domains),
        agents=_read(client, PTA_AGENTS, _agents),
    )
