"""The ``account`` scenarios of ``aadc-doctor demo``: the real command against the tenant emulator."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TextIO

from aadc_doctor.lab.tenant.directory import LAB_PASSWORD

PASSWORD_ENV = "AADC_DOCTOR_LAB_PASSWORD"


@dataclass(frozen=True)
class AccountScenario:
    title: str
    upn: str
    args: tuple[str, ...] = ()


ACCOUNT_DEMO_SCENARIOS: tuple[AccountScenario, ...] = (
    AccountScenario("A healthy cloud-only Global Administrator (device-code sign-in)", "admin@contoso.com"),
    AccountScenario("A domain no tenant has verified: Unknown User Type", "admin@nothere.example"),
    AccountScenario("A wrong password: Invalid Grant", "admin@contoso.com", ("--password-env", "WRONG_PASSWORD")),
    AccountScenario("An MFA-enabled admin with the password flow (the PTA registration known issue)",
                    "mfa@contoso.com", ("--password-env", PASSWORD_ENV)),
    AccountScenario("Global Administrator only eligible in PIM: PrivilegedIdentityManagement", "pim@contoso.com"),
    AccountScenario("This server runs the tenant's only PTA agent", "admin@tailspintoys.com",
                    ("--this-server", "AADC01")),
)


def run_account_demo(*, stdout: TextIO, stderr: TextIO, env: Mapping[str, str],
                     scenarios: Sequence[AccountScenario] = ACCOUNT_DEMO_SCENARIOS,
                     extra_args: Sequence[str] = ()) -> list[tuple[AccountScenario, int]]:
    """Start the emulator, run ``aadc-doctor account`` once per scenario, return each exit code."""
    from aadc_doctor.cli import main
    from aadc_doctor.lab.tenant.server import start_tenant_emulator

    outcomes: list[tuple[AccountScenario, int]] = []
    run_env = {**env, PASSWORD_ENV: LAB_PASSWORD, "WRONG_PASSWORD": "not-the-password"}
    with start_tenant_emulator() as lab:
        for scenario in scenarios:
            stdout.write(f"\n=== account: {scenario.title}\n$ aadc-doctor account {scenario.upn} "
                         f"{' '.join(scenario.args)}\n")
            stdout.flush()
            argv = ["account", scenario.upn, "--direct", *lab.cli_args(), *scenario.args, *extra_args]
            if "--this-server" not in scenario.args:
                argv += ["--this-server", "AADC01.contoso.com"]
            code = main(argv, stdout=stdout, stderr=stderr, env=run_env)
            outcomes.append((scenario, code))
    return outcomes
