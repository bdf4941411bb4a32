"""Settings from the environment: typed errors that name the variable, and unsafe starts refused."""

from __future__ import annotations

import os

import pytest

from config.environment import DEV_JWT_SECRET, DEV_LINK_SECRET, SettingsError
from config.settings import Settings, refuse_unsafe_start

GOOD_SECRET = "k" * 40


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Whatever the shell running the tests has set (the stack's settings) is left out."""
    for name in list(os.environ):
        if name.startswith(("EXPORT_", "KAFKA_")) or name == "DATABASE_URL":
            monkeypatch.delenv(name)


def test_a_value_of_the_wrong_type_names_its_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EXPORT_API_PORT", "eighty")
    monkeypatch.setenv("EXPORT_LOG_FORMAT", "xml")
    with pytest.raises(SettingsError) as raised:
        Settings.from_env()
    message = str(raised.value)
    assert "EXPORT_API_PORT" in message and "'eighty'" in message
    assert "EXPORT_LOG_FORMAT" in message and "'xml'" in message


def test_defaults_give_the_local_stack_s_addresses() -> None:
    settings = Settings.from_env()
    assert settings.kafka_bootstrap_servers == "127.0.0.1:19092"
    assert settings.api_url == "http://127.0.0.1:8080" and settings.s3_store is None


@pytest.mark.parametrize(
    ("variables", "reason"),
    [
        ({"EXPORT_LINK_SECRET": GOOD_SECRET}, "EXPORT_JWT_SECRET is not set"),
        (
            {"EXPORT_JWT_SECRET": DEV_JWT_SECRET, "EXPORT_LINK_SECRET": GOOD_SECRET},
            "EXPORT_JWT_SECRET is the development default",
        ),
        (
            {"EXPORT_JWT_SECRET": GOOD_SECRET, "EXPORT_LINK_SECRET": DEV_LINK_SECRET},
            "EXPORT_LINK_SECRET is the development default",
        ),
        (
            {"EXPORT_JWT_SECRET": GOOD_SECRET, "EXPORT_LINK_SECRET": "short"},
            "EXPORT_LINK_SECRET is shorter than 32 characters",
        ),
        (
            {
                "EXPORT_JWT_SECRET": GOOD_SECRET,
                "EXPORT_LINK_SECRET": GOOD_SECRET,
                "EXPORT_DEV_LOGIN": "true",
            },
            "EXPORT_DEV_LOGIN lets anyone sign in",
        ),
    ],
)
def test_outside_development_an_unsafe_start_is_refused(
    monkeypatch: pytest.MonkeyPatch, variables: dict[str, str], reason: str
) -> None:
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SystemExit) as refused:
        refuse_unsafe_start("api")
    assert str(refused.value).startswith("api: refusing to start: ")
    assert reason in str(refused.value)


def test_a_bad_variable_stops_a_start_with_its_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EXPORT_STALL_SECONDS", "soon")
    with pytest.raises(SystemExit, match="worker: bad settings: EXPORT_STALL_SECONDS"):
        refuse_unsafe_start("worker")


def test_production_with_its_own_secrets_starts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EXPORT_JWT_SECRET", GOOD_SECRET)
    monkeypatch.setenv("EXPORT_LINK_SECRET", "l" * 32)
    refuse_unsafe_start("api")
    assert Settings.from_env().jwt_secret == GOOD_SECRET


def test_development_allows_the_stack_s_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EXPORT_ENVIRONMENT", "development")
    monkeypatch.setenv("EXPORT_DEV_LOGIN", "true")
    refuse_unsafe_start("worker")
    settings = Settings.from_env()
    assert (settings.jwt_secret, settings.link_secret) == (DEV_JWT_SECRET, DEV_LINK_SECRET)
    assert settings.dev_login
