"""Response bodies in the documented shapes of the real services.

Documentation followed (field names, error shapes, values):
- User realm v2.1 (undocumented but public; the fields MSAL and the wizard read): ``NameSpaceType``,
  ``federation_protocol``, ``Login``, ``AuthURL``, ``DomainName``, ``FederationBrandName``,
  ``TenantBrandingInfo``, ``cloud_instance_name``; v1.0 (what MSAL asks before the password flow):
  ``ver``, ``account_type``, ``domain_name``, ``federation_protocol``, ``federation_metadata_url``,
  ``federation_active_auth_url``, ``cloud_instance_name``, ``cloud_audience_urn``
  (msal/authority.py ``user_realm_discovery``).
- OpenID configuration: https://learn.microsoft.com/entra/identity-platform/v2-protocols-oidc
  (``token_endpoint``, ``device_authorization_endpoint``, ``issuer``, ``tenant_region_scope``,
  ``cloud_instance_name``, ``cloud_graph_host_name``, ``msgraph_host``), and the national-cloud values of
  https://learn.microsoft.com/entra/identity-platform/authentication-national-cloud.
- Error answers: https://learn.microsoft.com/entra/identity-platform/reference-error-codes
  ("error", "error_description" = "AADSTSnnnnn: text\\r\\nTrace ID: ...\\r\\nCorrelation ID: ...\\r\\nTimestamp: ...",
  "error_codes", "timestamp", "trace_id", "correlation_id", "error_uri"); tenant not found = AADSTS90002.
- Device code flow: https://learn.microsoft.com/entra/identity-platform/v2-oauth2-device-code
  (device authorization answer; ``authorization_pending`` (AADSTS70016), ``authorization_declined``,
  ``expired_token``).
- Password flow: https://learn.microsoft.com/entra/identity-platform/v2-oauth-ropc
- Graph: https://learn.microsoft.com/graph/api/user-get, user-list-memberof, user-list-transitivememberof,
  https://learn.microsoft.com/graph/api/resources/directoryrole (``roleTemplateId``),
  rbacapplication-list-roleeligibilityscheduleinstances and unifiedroleeligibilityscheduleinstance,
  organization-list, domain-list (``isVerified``, ``authenticationType``),
  https://learn.microsoft.com/graph/api/resources/onpremisesagent?view=graph-rest-beta (``machineName``,
  ``externalIp``, ``status`` active/inactive, ``supportedPublishingTypes``), and the error shape of
  https://learn.microsoft.com/graph/errors (``error.code``, ``error.message``, ``error.innerError``).
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from aadc_doctor.lab.tenant.directory import ROLE_NAMES, LabAgent, LabTenant, LabUser

# Texts of the error-code reference (reference-error-codes), {placeholders} filled per request.
AADSTS_TEXT = {
    50034: ("invalid_grant", "The user account {upn} does not exist in the {tenant} directory. To sign into this "
            "application, the account must be added to the directory."),
    50053: ("invalid_grant", "Your account is locked because you've tried to sign in too many times with an "
            "incorrect user ID or password."),
    50055: ("invalid_grant", "The password is expired."),
    50057: ("invalid_grant", "The user account is disabled."),
    50059: ("invalid_request", "No tenant-identifying information found in either the request or implied by any "
            "provided credentials."),
    50074: ("invalid_grant", "Strong Authentication is required."),
    50076: ("invalid_grant", "Due to a configuration change made by your administrator, or because you moved to a "
            "new location, you must use multi-factor authentication to access '00000003-0000-0000-c000-000000000000'."),
    50079: ("invalid_grant", "Due to a configuration change made by your administrator, or because you moved to a "
            "new location, you must enroll in multi-factor authentication to access "
            "'00000003-0000-0000-c000-000000000000'."),
    50126: ("invalid_grant", "Error validating credentials due to invalid username or password."),
    50144: ("invalid_grant", "User's Active Directory password has expired. Generate a new password for the user or "
            "have the user use the self-service reset tool to reset their password."),
    53003: ("access_denied", "Access has been blocked by Conditional Access policies. The access policy does not allow "
            "token issuance."),
    70000: ("authorization_declined", "The user declined to authorize the sign-in."),
    70016: ("authorization_pending", "OAuth 2.0 device flow error. Authorization is pending. Continue polling."),
    70019: ("expired_token", "Verification code expired."),
    90002: ("invalid_tenant", "Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are "
            "signing into the correct cloud. Check with your subscription administrator, this may happen if there "
            "are no active subscriptions for the tenant."),
}

CLOUD_HOSTS = {
    "microsoftonline.com": ("login.microsoftonline.com", "graph.microsoft.com", "graph.windows.net"),
    "microsoftonline.us": ("login.microsoftonline.us", "graph.microsoft.us", "graph.windows.net"),
    "partner.microsoftonline.cn": ("login.chinacloudapi.cn", "microsoftgraph.chinacloudapi.cn",
                                   "graph.chinacloudapi.cn"),
    "consumers": ("login.microsoftonline.com", "graph.microsoft.com", "graph.windows.net"),
}


def _stamp() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def aadsts_error(code: int, **values: str) -> dict[str, Any]:
    """The identity platform's JSON error answer for one AADSTS code."""
    error, text = AADSTS_TEXT[code]
    trace, correlation, stamp = str(uuid.uuid4()), str(uuid.uuid4()), _stamp()
    description = (f"AADSTS{code}: {text.format(**values)}\r\nTrace ID: {trace}\r\n"
                   f"Correlation ID: {correlation}\r\nTimestamp: {stamp}")
    return {"error": error, "error_description": description, "error_codes": [code], "timestamp": stamp,
            "trace_id": trace, "correlation_id": correlation,
            "error_uri": f"https://login.microsoftonline.com/error?code={code}"}


def user_realm_v2(upn: str, tenant: LabTenant | None, federated: tuple[str, str] | None) -> dict[str, Any]:
    domain = upn.rpartition("@")[2].lower()
    if tenant is None:
        return {"NameSpaceType": "Unknown", "Login": upn, "DomainName": domain, "FederationBrandName": None,
                "TenantBrandingInfo": None, "cloud_instance_name": "microsoftonline.com"}
    instance = "microsoftonline.com" if tenant.cloud_instance_name == "consumers" else tenant.cloud_instance_name
    body: dict[str, Any] = {"NameSpaceType": "Managed", "Login": upn, "DomainName": domain,
                            "FederationBrandName": tenant.name, "TenantBrandingInfo": None,
                            "cloud_instance_name": instance}
    if federated is not None:
        brand, auth_url = federated
        body.update({"NameSpaceType": "Federated", "federation_protocol": "WSTrust", "AuthURL":
                     f"{auth_url}?username={upn}&wa=wsignin1.0&wtrealm=urn%3afederation%3aMicrosoftOnline",
                     "FederationBrandName": brand})
    return body


def user_realm_v1(upn: str, tenant: LabTenant | None, federated: tuple[str, str] | None) -> dict[str, Any]:
    v2 = user_realm_v2(upn, tenant, federated)
    body: dict[str, Any] = {"ver": "1.0", "account_type": v2["NameSpaceType"], "domain_name": v2["DomainName"],
                            "cloud_instance_name": v2["cloud_instance_name"],
                            "cloud_audience_urn": "urn:federation:MicrosoftOnline"}
    if federated is not None:
        body.update({"federation_protocol": "WSTrust",
                     "federation_metadata_url": federated[1].split("/adfs/")[0] + "/adfs/services/trust/mex",
                     "federation_active_auth_url": federated[1].split("/adfs/")[0] +
                     "/adfs/services/trust/2005/usernamemixed"})
    return body


def openid_configuration(tenant: LabTenant | None, segment: str) -> dict[str, Any]:
    """v2.0 configuration; for /organizations and /common the tenant id is the {tenantid} template."""
    instance = tenant.cloud_instance_name if tenant else "microsoftonline.com"
    login, graph, aad_graph = CLOUD_HOSTS.get(instance, CLOUD_HOSTS["microsoftonline.com"])
    tid = tenant.id if tenant else segment
    issuer_tid = tenant.id if tenant else "{tenantid}"
    reported_instance = "microsoftonline.com" if instance == "consumers" else instance
    base = f"https://{login}/{tid}"
    return {
        "token_endpoint": f"{base}/oauth2/v2.0/token",
        "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
        "jwks_uri": f"https://{login}/{tid}/discovery/v2.0/keys",
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "issuer": f"https://{login}/{issuer_tid}/v2.0",
        "request_uri_parameter_supported": False,
        "userinfo_endpoint": f"https://{graph}/oidc/userinfo",
        "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
        "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
        "http_logout_supported": True,
        "frontchannel_logout_supported": True,
        "end_session_endpoint": f"{base}/oauth2/v2.0/logout",
        "claims_supported": ["sub", "iss", "cloud_instance_name", "cloud_instance_host_name", "cloud_graph_host_name",
                             "msgraph_host", "aud", "exp", "iat", "auth_time", "acr", "nonce", "preferred_username",
                             "name", "tid", "ver", "at_hash", "c_hash", "email"],
        "kerberos_endpoint": f"https://{login}/{tid}/kerberos",
        "tenant_region_scope": (tenant.tenant_region_scope or None) if tenant else None,
        **({"tenant_region_sub_scope": tenant.tenant_region_sub_scope}
           if tenant and tenant.tenant_region_sub_scope else {}),
        "cloud_instance_name": reported_instance,
        "cloud_graph_host_name": aad_graph,
        "msgraph_host": graph,
        "rbac_url": "https://pas.windows.net",
    }


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def token_answer(user: LabUser, tenant: LabTenant, client_id: str, scope: str, access_token: str,
                 refresh_token: str) -> dict[str, Any]:
    """A successful token answer; the id_token is JWT-shaped (MSAL reads its claims, it does not verify it)."""
    now = int(time.time())
    login = CLOUD_HOSTS.get(tenant.cloud_instance_name, CLOUD_HOSTS["microsoftonline.com"])[0]
    claims = {"aud": client_id, "iss": f"https://{login}/{tenant.id}/v2.0", "iat": now, "nbf": now,
              "exp": now + 3600, "name": user.display_name or user.upn.split("@")[0], "oid": user.id,
              "preferred_username": user.upn, "sub": user.id, "tid": tenant.id, "ver": "2.0"}
    id_token = f"{_b64({'typ': 'JWT', 'alg': 'RS256', 'kid': 'aadc-doctor-lab'})}.{_b64(claims)}.bGFiLXNpZ25hdHVyZQ"
    return {"token_type": "Bearer", "scope": scope, "expires_in": 3599, "ext_expires_in": 3599,
            "access_token": access_token, "refresh_token": refresh_token, "id_token": id_token,
            "client_info": _b64({"uid": user.id, "utid": tenant.id})}


def graph_error(_status: int, code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message,
                      "innerError": {"date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S"),
                                     "request-id": str(uuid.uuid4()), "client-request-id": str(uuid.uuid4())}}}


GRAPH_ERRORS = {
    401: ("InvalidAuthenticationToken", "Lifetime validation failed, the token is expired."),
    403: ("Authorization_RequestDenied", "Insufficient privileges to complete the operation."),
    404: ("Request_ResourceNotFound", "Resource not found."),
    500: ("UnknownError", ""),
    503: ("serviceNotAvailable", "The service is temporarily unavailable. Please retry later."),
}


def directory_role(template_id: str) -> dict[str, Any]:
    return {"@odata.type": "#microsoft.graph.directoryRole", "id": str(uuid.uuid5(uuid.NAMESPACE_URL, template_id)),
            "deletedDateTime": None, "description": "", "displayName": ROLE_NAMES.get(template_id, template_id),
            "roleTemplateId": template_id}


def eligibility_instance(user: LabUser, template_id: str) -> dict[str, Any]:
    return {"id": str(uuid.uuid5(uuid.NAMESPACE_URL, user.id + template_id)), "principalId": user.id,
            "roleDefinitionId": template_id, "directoryScopeId": "/", "appScopeId": None,
            "startDateTime": "2026-01-01T00:00:00Z", "endDateTime": None, "memberType": "Direct",
            "roleEligibilityScheduleId": str(uuid.uuid5(uuid.NAMESPACE_URL, "schedule" + user.id + template_id))}


def me(user: LabUser) -> dict[str, Any]:
    return {"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#users/$entity", "id": user.id,
            "userPrincipalName": user.upn, "displayName": user.display_name or user.upn.split("@")[0],
            "onPremisesSyncEnabled": True if user.synced else None, "accountEnabled": True, "userType": "Member"}


def organization(tenant: LabTenant) -> dict[str, Any]:
    verified = [{"capabilities": "Email, OfficeCommunicationsOnline", "isDefault": i == 0,
                 "isInitial": d.endswith(".onmicrosoft.com") or d.endswith(".onmicrosoft.us"), "name": d, "type": t}
                for i, (d, ok, t) in enumerate(tenant.domains) if ok]
    return {"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#organization",
            "value": [{"id": tenant.id, "displayName": tenant.name, "verifiedDomains": verified,
                       "onPremisesSyncEnabled": True}]}


def domains(tenant: LabTenant) -> dict[str, Any]:
    return {"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#domains",
            "value": [{"authenticationType": t, "availabilityStatus": None, "id": d, "isAdminManaged": True,
                       "isDefault": i == 0, "isInitial": d.endswith(".onmicrosoft.com"), "isRoot": d.count(".") == 1,
                       "isVerified": ok, "passwordNotificationWindowInDays": None,
                       "passwordValidityPeriodInDays": None, "supportedServices": ["Email"] if ok else [],
                       "state": None}
                      for i, (d, ok, t) in enumerate(tenant.domains)]}


def agent(a: LabAgent) -> dict[str, Any]:
    return {"id": a.id, "machineName": a.machine_name, "externalIp": a.external_ip, "status": a.status,
            "supportedPublishingTypes": ["authentication"]}


def agents(tenant: LabTenant) -> dict[str, Any]:
    return {"@odata.context":
            "https://graph.microsoft.com/beta/$metadata#onPremisesPublishingProfiles('authentication')/agents",
            "value": [agent(a) for a in tenant.agents]}
