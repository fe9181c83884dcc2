"""A local tenant emulator: login.microsoftonline.com and graph.microsoft.com over TLS, for ``account``."""

from aadc_doctor.lab.tenant.demo import ACCOUNT_DEMO_SCENARIOS, run_account_demo
from aadc_doctor.lab.tenant.directory import LAB_PASSWORD, Directory, LabAgent, LabTenant, LabUser, default_directory
from aadc_doctor.lab.tenant.server import TenantEmulator, start_tenant_emulator

__all__ = [
    "ACCOUNT_DEMO_SCENARIOS",
    "LAB_PASSWORD",
    "Directory",
    "LabAgent",
    "LabTenant",
    "LabUser",
    "TenantEmulator",
    "default_directory",
    "run_account_demo",
    "start_tenant_emulator",
]
