"""Local servers that impersonate the Azure AD endpoints, used by ``demo`` and the tests."""
