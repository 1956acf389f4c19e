"""The policy file: defaults from the contract, overrides, refusals naming file and field."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from runner.incidents.policy import POLICY_ENV, PolicyError, defaults, load_policy


def test_defaults_follow_the_contract() -> None:
    policy = defaults()
    p1, p2, p3 = (policy.severities[s] for s in ("P1", "P2", "P3"))
    assert (p1.respond, p1.restore, p1.resolve, p1.report) == (
        timedelta(minutes=20),
        timedelta(hours=2),
        timedelta(hours=24),
        timedelta(hours=24),
    )
    assert (p2.respond, p2.restore, p2.resolve) == (
        timedelta(minutes=30),
        timedelta(hours=4),
        timedelta(hours=24),
    )
    assert (p3.respond, p3.restore, p3.resolve) == (timedelta(hours=1), None, timedelta(hours=48))
    assert policy.resolve_after == 2
    assert policy.reopen_window == timedelta(hours=72)
    assert policy.near_breach == 0.8


def test_a_file_in_the_inventory_folder_overrides(tmp_path: Path) -> None:
    (tmp_path / "incident_policy.yml").write_text(
        "resolve_after: 3\nchecks: {linux.time.sync: P2}\n"
        "severities: {P2: {respond: 15m, notify: {mail: [ops@example.com]}}}\n"
    )
    policy = load_policy(inventory=tmp_path)
    assert policy.resolve_after == 3
    assert policy.declared("linux.time.sync") == "P2"
    assert policy.declared("linux.disk.inodes") == "P3"
    assert policy.severities["P2"].respond == timedelta(minutes=15)
    assert policy.severities["P2"].restore == timedelta(hours=4)
    assert policy.severities["P2"].mail == ("ops@example.com",)


def test_the_environment_names_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "elsewhere.yml"
    path.write_text("near_breach: 0.5\n")
    monkeypatch.setenv(POLICY_ENV, str(path))
    assert load_policy(inventory=tmp_path).near_breach == 0.5


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "checks: {linux.disk.usage: P0}",
            "field 'checks.linux.disk.usage' is 'P0'; expected one of: P1, P2, P3",
        ),
        ("severities: {P4: {respond: 10}}", "field 'severities.P4' is 'P4'; expected one of"),
        (
            "severities: {P2: {restore: -5}}",
            "field 'severities.P2.restore' is -5; a time cannot be negative",
        ),
        ("reopen_window: -1h", "field 'reopen_window' is '-1h'; a time cannot be negative"),
        (
            "smtp: {password: hunter2}",
            "field 'smtp.password' is '***'; passwords never go in a file",
        ),
        ("timezone: Mars/Olympus", "field 'timezone' is 'Mars/Olympus'"),
        ("colour: red", "field 'colour' is 'red'; unknown field"),
        # Numbers: finite, bounded, whole where they count something.
        ("severities: {P2: {respond: .nan}}", "field 'severities.P2.respond' is nan; expected"),
        ("severities: {P2: {respond: .inf}}", "field 'severities.P2.respond' is inf; expected"),
        ("severities: {P2: {respond: nanh}}", "field 'severities.P2.respond' is 'nanh'"),
        (
            "severities: {P1: {resolve: 99999999999}}",
            "field 'severities.P1.resolve' is 99999999999; expected a time of at most 366 days",
        ),
        ("reopen_window: 400d", "field 'reopen_window' is '400d'; expected a time of at most"),
        (
            "severities: {P3: {respond: 0}}",
            "field 'severities.P3.respond' is 0; a clock needs a time above zero",
        ),
        ("resolve_after: 2.5", "field 'resolve_after' is 2.5; expected a whole number"),
        ("max_attempts: 0", "field 'max_attempts' is 0; expected a whole number of at least 1"),
        ("smtp: {port: 25.5}", "field 'smtp.port' is 25.5; expected a whole number"),
        ("impact_raise: {critical: 1.5}", "field 'impact_raise.critical' is 1.5; expected a"),
        ("webhook_timeout: .nan", "field 'webhook_timeout' is nan; expected a finite number"),
        ("smtp: {timeout: .inf}", "field 'smtp.timeout' is inf; expected a finite number"),
        ("near_breach: .nan", "field 'near_breach' is nan; expected a finite number"),
        # Where notices go: URLs and mail addresses are checked when the file is read.
        (
            "severities: {P1: {notify: {webhook: [chat.example.com/hook]}}}",
            "field 'severities.P1.notify.webhook' is 'chat.example.com/hook'; expected an "
            "http:// or https:// URL with a host",
        ),
        (
            "severities: {P1: {notify: {webhook: ['ftp://files.example.com/x']}}}",
            "is 'ftp://files.example.com/x'; expected an http:// or https:// URL",
        ),
        ("severities: {P1: {notify: {webhook: ['https:///x']}}}", "is 'https:///x'; expected"),
        (
            "severities: {P1: {notify: {webhook: ['http://example.com:99999/x']}}}",
            "is 'http://example.com:99999/x'; expected",
        ),
        (
            "severities: {P2: {notify: {mail: [oncall]}}}",
            "field 'severities.P2.notify.mail' is 'oncall'; expected a mail address like "
            "oncall@example.com",
        ),
        ("severities: {P2: {notify: {mail: ['on call@example.com']}}}", "is 'on call@example"),
        ("smtp: {from: opskeeper}", "field 'smtp.from' is 'opskeeper'; expected a mail address"),
    ],
)
def test_a_bad_file_is_refused_naming_file_and_field(
    tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "incident_policy.yml"
    path.write_text(text + "\n")
    with pytest.raises(PolicyError) as caught:
        load_policy(path)
    assert str(caught.value).startswith(f"{path}: ")
    assert message in str(caught.value)
    assert "hunter2" not in str(caught.value)


def test_a_reopen_window_of_zero_never_reopens(tmp_path: Path) -> None:
    path = tmp_path / "incident_policy.yml"
    path.write_text("reopen_window: 0\nresolve_after: 3\n")
    policy = load_policy(path)
    assert (policy.reopen_window, policy.resolve_after) == (timedelta(0), 3)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://ops:hunter2@chat.example.com/hook", "'https://***@chat.example.com/hook'"),
        ("https://chat.example.com/hook?room=ops&token=hunter2", "?room=***&token=***'"),
        ("https://chat.example.com/hook?api_key=hunter2", "?api_key=***'"),
        ("https://chat.example.com/hook?sig=hunter2", "?sig=***'"),
    ],
)
def test_a_secret_in_a_webhook_url_is_refused_without_showing_it(
    tmp_path: Path, url: str, shown: str
) -> None:
    path = tmp_path / "incident_policy.yml"
    path.write_text(f"severities: {{P1: {{notify: {{webhook: ['{url}']}}}}}}\n")
    with pytest.raises(PolicyError) as caught:
        load_policy(path)
    text = str(caught.value)
    assert text.startswith(f"{path}: field 'severities.P1.notify.webhook' is ")
    assert shown in text
    assert "name an environment variable in token_env" in text
    assert "hunter2" not in text


def test_a_webhook_names_its_token_variable(tmp_path: Path) -> None:
    path = tmp_path / "incident_policy.yml"
    path.write_text(
        "severities: {P1: {notify: {webhook: ['https://a.example.com/x?room=ops',\n"
        "  {url: 'https://b.example.com/y', token_env: PAGER_TOKEN}]}}}\n"
    )
    policy = load_policy(path)
    assert policy.severities["P1"].webhook == (
        "https://a.example.com/x?room=ops",
        "https://b.example.com/y",
    )
    assert policy.webhook_tokens == {"https://b.example.com/y": "PAGER_TOKEN"}


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ("{url: 'https://b.example.com/y', token_env: 'my token'}", "is 'my token'; expected"),
        ("{url: 'https://b.example.com/y', token: abc}", "is 'token'; unknown field"),
        ("{token_env: PAGER_TOKEN}", "field 'severities.P1.notify.webhook.url' is None"),
    ],
)
def test_a_bad_webhook_mapping_is_refused(tmp_path: Path, item: str, message: str) -> None:
    path = tmp_path / "incident_policy.yml"
    path.write_text(f"severities: {{P1: {{notify: {{webhook: [{item}]}}}}}}\n")
    with pytest.raises(PolicyError) as caught:
        load_policy(path)
    assert message in str(caught.value)
