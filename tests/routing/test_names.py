"""routing/names.py: the forms of a customer's names that a drafted title must not contain."""

from __future__ import annotations

from gtm_feedback_dagster.routing.names import name_variants, without_names


def test_name_variants_are_the_forms_notes_write() -> None:
    assert name_variants(["Sablewood Logistics Inc", "Ana Lopez", "X", "", "acme corp"]) == {
        "Sablewood Logistics Inc",
        "Sablewood Logistics",
        "Sablewood",
        "Ana Lopez",
        "Ana",
        "acme corp",
        "acme",
    }


def test_without_names_drops_the_name_and_its_preposition() -> None:
    names = ["Bellwether Wireless"]
    assert (
        without_names("Folks at Bellwether find the UI harsh", names) == "Folks find the UI harsh"
    )
    assert without_names("Bellwether's admins rotate keys", names) == "admins rotate keys"
    assert without_names("No names here", names) == "No names here"
