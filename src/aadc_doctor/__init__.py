"""aadc-doctor: diagnose Azure AD Connect / Entra Connect and PTA agents behind proxies."""

__version__ = "0.1.0"
