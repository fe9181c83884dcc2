"""Active Directory as the PTA agent and Seamless SSO see it: DCs, credential validation, AZUREADSSOACC.

Network modules (discovery, cldap, probes, directory, dc_survey, logon) return results and never raise for what
the network does; the *_findings modules are pure functions from those results to findings.
"""
