"""Step 2: sign in with MSAL over our own HTTP session, and keep the token out of every output.

Device-code flow by default: it works with MFA, federated domains and Conditional Access, and the
password never touches this tool. ``--password-env`` selects the resource-owner password flow for
automation, which is also what reveals "MFA required" (AADSTS50076) the way PTA registration meets it.
The access token lives only in an :class:`AccessToken` in memory: registered with the scrubber, not
printable, not cached on disk (MSAL's default cache is in memory).
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from typing import Any

from aadc_doctor.account.models import CallFailure, SignInResult, TenantInfo
from aadc_doctor.account.oauth import parse_oauth_error
from aadc_doctor.net.http_client import DoctorSession, HttpFailure
from aadc_doctor.net.outcome import Outcome as CallOutcome
from aadc_doctor.secrets import register_secret

# "Microsoft Graph Command Line Tools": a Microsoft public client that allows device code and ROPC.
DEFAULT_CLIENT_ID = "14d82eec-204b-4c2f-b7e8-296a70dab67e"
# Delegated Graph permissions the checks need (each documented on the API page it serves).
GRAPH_SCOPES = (
    "User.Read",
    "Directory.Read.All",
    "RoleEligibilitySchedule.Read.Directory",
    "Policy.Read.HybridAuthentication",
)


class AccessToken:
    """A bearer token that cannot be printed by accident: repr and str show nothing of it."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        register_secret(value)
        self._value = value

    def authorization_header(self) -> str:
        return f"Bearer {self._value}"

    def __repr__(self) -> str:
        return "AccessToken(***)"

    __str__ = __repr__


def scopes_for(graph_host: str) -> list[str]:
    """Scopes qualified with the tenant cloud's Graph host (required outside the worldwide cloud)."""
    return [f"https://{graph_host}/{scope}" for scope in GRAPH_SCOPES]


def _forget_secrets(result: dict[str, Any]) -> None:
    for key in ("access_token", "refresh_token", "id_token"):
        value = result.get(key)
        if isinstance(value, str):
            register_secret(value)


def _from_msal_result(flow: str, result: dict[str, Any], **extra: Any) -> tuple[SignInResult, AccessToken | None]:
    _forget_secrets(result)
    token = result.get("access_token")
    if isinstance(token, str) and token:
        return SignInResult(flow=flow, succeeded=True, **extra), AccessToken(token)
    error = parse_oauth_error(result)
    return SignInResult(
        flow=flow, succeeded=False, error=error.error, codes=error.codes, description=error.description,
        correlation_id=error.correlation_id, trace_id=error.trace_id, timestamp=error.timestamp, **extra,
    ), None


def _network_failure(flow: str, failure: HttpFailure) -> SignInResult:
    return SignInResult(flow=flow, succeeded=False,
                        failure=CallFailure(url=failure.url, outcome=failure.outcome, message=failure.message))


def authority_for(tenant: TenantInfo, consumer_tenant_id: str) -> str:
    """The tenant's own authority; a Microsoft account goes to /organizations, as the wizard does."""
    tenant_segment = "organizations" if tenant.tenant_id == consumer_tenant_id else tenant.tenant_id
    return f"https://{tenant.login_host}/{tenant_segment}"


def sign_in(session: DoctorSession, *, authority: str, upn: str, graph_host: str, client_id: str,
            password: str | None, on_device_code: Callable[[str], None],
            device_timeout: float) -> tuple[SignInResult, AccessToken | None]:
    """Run the password or device-code flow; never raises for a failed sign-in."""
    import msal

    flow_name = "password" if password is not None else "device_code"
    try:
        app = msal.PublicClientApplication(client_id, authority=authority, http_client=session,
                                           token_cache=msal.TokenCache())
        scopes = scopes_for(graph_host)
        if password is not None:
            register_secret(password)
            with warnings.catch_warnings():
                # MSAL deprecates this flow for public clients; it is chosen on purpose, for automation
                warnings.simplefilter("ignore", DeprecationWarning)
                result = app.acquire_token_by_username_password(upn, password, scopes=scopes)
            return _from_msal_result(flow_name, result)
        flow = app.initiate_device_flow(scopes=scopes)
        if "user_code" not in flow:
            return _from_msal_result(flow_name, flow)
        on_device_code(str(flow.get("message") or f"Open {flow.get('verification_uri')} and enter {flow['user_code']}"))
        deadline = time.time() + device_timeout
        result = app.acquire_token_by_device_flow(
            flow, exit_condition=lambda f: time.time() > min(float(f.get("expires_at", 0)), deadline))
        extra = {"verification_uri": str(flow.get("verification_uri") or ""),
                 "expires_in": int(flow.get("expires_in", 0))}
        if result.get("error") == "authorization_pending":
            result = {**result, "error": "expired_token",
                      "error_description": f"No sign-in completed within {int(device_timeout)} seconds."}
        return _from_msal_result(flow_name, result, **extra)
    except HttpFailure as failure:
        return _network_failure(flow_name, failure), None
    except ValueError as exc:  # MSAL: authority or OpenID configuration unusable
        return SignInResult(flow=flow_name, succeeded=False,
                            failure=CallFailure(url=authority, outcome=CallOutcome.HTTP_ERROR,
                                                message=str(exc)[:300])), None
