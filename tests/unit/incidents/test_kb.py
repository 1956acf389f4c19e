"""Knowledge base articles found for an incident: by its check, or by its words."""

from __future__ import annotations

import pytest

from runner.incidents.kb import for_incident
from runner.incidents.lifecycle import open_incident
from runner.incidents.policy import Policy
from runner.incidents.report import record
from runner.store import Store
from tests.unit.incidents.conftest import NIGHT


@pytest.mark.parametrize(
    ("title", "slugs"),
    [
        ("Shop uploads fail: No space left on device", ["disk-filling-up"]),
        ("fileserver: disk is full again", ["disk-filling-up"]),
        ("Payroll database stops accepting writes", ["disk-filling-up"]),
        ("the printer on floor 2 jams", []),
        # A word inside another word is no match: "fulltext" is not "full".
        ("disk fulltext index slow", []),
    ],
)
def test_a_title_finds_articles_by_their_symptoms(title: str, slugs: list[str]) -> None:
    assert [article.slug for article in for_incident(None, title)] == slugs


def test_the_check_matches_first() -> None:
    found = for_incident("linux.service.required", "web01: linux.service.required nginx fail")
    assert found[0].slug == "required-service-down"


def test_an_incident_opened_by_hand_gets_its_articles(store: Store, policy: Policy) -> None:
    incident_id = open_incident(store, policy, "no space left on device on nas01", "P3", now=NIGHT)
    data = record(store, incident_id, policy, now=NIGHT)
    assert [article["slug"] for article in data["articles"]] == ["disk-filling-up"]
