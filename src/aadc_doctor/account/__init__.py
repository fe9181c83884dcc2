"""The account checks of ``aadc-doctor account``: user realm, tenant, sign-in, Graph, PTA agents."""
