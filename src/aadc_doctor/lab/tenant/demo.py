"""The ``account`` scenarios of ``aadc-doctor demo``: the real command against the tenant emulator."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, TextIO

from aadc_doctor.lab.tenant.directory import LAB_PASSWORD

if TYPE_CHECKING:
    from aadc_doctor.lab.tenant.server import TenantEmulator

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


def account_argv(emulator: TenantEmulator, scenario: AccountScenario, extra_args: Sequence[str] = ()) -> list[str]:
    """The `account` command line of one scenario, pointed at a running emulator."""
    argv = ["account", scenario.upn, "--direct", *emulator.cli_args(), *scenario.args, *extra_args]
    if "--this-server" not in scenario.args:
        argv += ["--this-server", "AADC01.contoso.com"]
    return argv


def demo_env(env: Mapping[str, str]) -> dict[str, str]:
    """The environment the scenarios read their passwords from (the lab's and a wrong one)."""
    return {**env, PASSWORD_ENV: LAB_PASSWORD, "WRONG_PASSWORD": "not-the-password"}


def run_account_scenario(emulator: TenantEmulator, scenario: AccountScenario, *, stdout: TextIO, stderr: TextIO,
                         env: Mapping[str, str], extra_args: Sequence[str] = ()) -> int:
    """Run ``aadc-doctor account`` for one scenario against an emulator that is already running."""
    from aadc_doctor.cli import main

    shown = " ".join(["aadc-doctor account", scenario.upn, *scenario.args])
    stdout.write(f"\n=== account: {scenario.title}\n$ {shown}\n")
    stdout.flush()
    return main(account_argv(emulator, scenario, extra_args), stdout=stdout, stderr=stderr, env=demo_env(env))


def run_account_demo(*, stdout: TextIO, stderr: TextIO, env: Mapping[str, str],
                     scenarios: Sequence[AccountScenario] = ACCOUNT_DEMO_SCENARIOS,
                     extra_args: Sequence[str] = ()) -> list[tuple[AccountScenario, int]]:
    """Start one emulator, run ``aadc-doctor account`` once per scenario against it, return each exit code."""
    from aadc_doctor.lab.tenant.server import start_tenant_emulator

    with start_tenant_emulator() as emulator:
        return [(scenario, run_account_scenario(emulator, scenario, stdout=stdout, stderr=stderr, env=env,
                                                extra_args=extra_args))
                for scenario in scenarios]
