"""Step 1, without credentials: the user realm of the UPN and the tenant's OpenID configuration.

These are the first two calls the wizard's Connect to Azure AD page makes; when they fail the
wizard says "User Realm Discovery Failed" or "Unknown User Type", so they are checked first.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote, urlsplit

from aadc_doctor.account.models import CallFailure, TenantInfo, UserRealm
from aadc_doctor.account.oauth import OAuthError, parse_oauth_error
from aadc_doctor.knowledge import read_toml
from aadc_doctor.net.http_client import DoctorSession, HttpFailure
from aadc_doctor.net.outcome import Outcome as CallOutcome

WORLDWIDE_LOGIN = "https://login.microsoftonline.com"


def _get_json(session: DoctorSession, url: str) -> tuple[int, Any] | CallFailure:
    """GET and decode JSON; the status comes back too so the caller can judge error answers."""
    try:
        response = session.get(url, headers={"Accept": "application/json"})
    except HttpFailure as failure:
        return CallFailure(url=failure.url, outcome=failure.outcome, message=failure.message)
    try:
        return response.status_code, json.loads(response.text)
    except ValueError:
        snippet = " ".join(response.text.split())[:120]
        return CallFailure(url=url, outcome=CallOutcome.HTTP_ERROR, status=response.status_code,
                           message=f"not JSON (Content-Type {response.headers.get('Content-Type', '?')}): {snippet!r}")


def realm_url(upn: str, login_base: str = WORLDWIDE_LOGIN) -> str:
    return f"{login_base}/common/userrealm/{quote(upn, safe='@')}?api-version=2.1"


def discover_realm(session: DoctorSession, upn: str, login_base: str = WORLDWIDE_LOGIN) -> UserRealm | CallFailure:
    """The realm says whether the domain is Managed, Federated, or unknown to every tenant."""
    url = realm_url(upn, login_base)
    answer = _get_json(session, url)
    if isinstance(answer, CallFailure):
        return answer
    status, body = answer
    if status != 200 or not isinstance(body, dict) or "NameSpaceType" not in body:
        return CallFailure(url=url, outcome=CallOutcome.HTTP_ERROR, status=status,
                           message="the answer has no NameSpaceType")
    return UserRealm(
        upn=upn,
        namespace_type=str(body.get("NameSpaceType") or "Unknown"),
        domain_name=str(body.get("DomainName") or upn.rpartition("@")[2]),
        federation_brand_name=str(body.get("FederationBrandName") or ""),
        cloud_instance_name=str(body.get("cloud_instance_name") or ""),
        federation_protocol=str(body.get("federation_protocol") or ""),
        auth_url=str(body.get("AuthURL") or ""),
    )


def cloud_of(cloud_instance_name: str) -> str:
    """worldwide, usgov or china, from the cloud_instance_name of the realm or OpenID configuration."""
    name = cloud_instance_name.lower()
    for cloud, spec in read_toml("account_errors.toml")["clouds"].items():
        if name in spec["cloud_instance_names"]:
            return str(cloud)
    return "unknown"


def discover_tenant(session: DoctorSession, domain: str,
                    login_base: str = WORLDWIDE_LOGIN) -> TenantInfo | CallFailure | OAuthError:
    """The tenant id and its cloud, so sign-in and ``check`` can use the right endpoints."""
    url = f"{login_base}/{quote(domain)}/v2.0/.well-known/openid-configuration"
    answer = _get_json(session, url)
    if isinstance(answer, CallFailure):
        return answer
    status, body = answer
    if status != 200:
        if isinstance(body, dict) and "error" in body:
            return parse_oauth_error(body)
        return CallFailure(url=url, outcome=CallOutcome.HTTP_ERROR, status=status, message=f"HTTP {status}")
    if not isinstance(body, dict) or "token_endpoint" not in body:
        return CallFailure(url=url, outcome=CallOutcome.HTTP_ERROR, status=status,
                           message="no token_endpoint in the answer")
    token_endpoint = str(body["token_endpoint"])
    token_parts = urlsplit(token_endpoint)
    tenant_id = token_parts.path.strip("/").split("/")[0]
    instance = str(body.get("cloud_instance_name") or "")
    cloud = cloud_of(instance)
    clouds = read_toml("account_errors.toml")["clouds"]
    graph_host = str(body.get("msgraph_host") or clouds.get(cloud, clouds["worldwide"])["graph_host"])
    return TenantInfo(
        tenant_id=tenant_id,
        cloud=cloud,
        cloud_instance_name=instance,
        tenant_region_scope=str(body.get("tenant_region_scope") or ""),
        tenant_region_sub_scope=str(body.get("tenant_region_sub_scope") or ""),
        token_endpoint=token_endpoint,
        login_host=token_parts.hostname or "",
        graph_host=graph_host,
    )
