"""The free text of demo feedback entries, composed from a concept's pains and asks."""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import ClassVar

from gtm_feedback_dagster.demo import vocab
from gtm_feedback_dagster.demo.common import capitalize_first
from gtm_feedback_dagster.demo.concepts import Concept

# Pains starting with these verbs express a wish rather than a complaint.
_WISH_VERBS = frozenset(["want", "need", "would"])
# Pains starting with these verbs are past tense and only fit the tense-neutral frames.
_PAST_VERBS = frozenset(
    [
        "had",
        "lost",
        "got",
        "broke",
        "were",
        "ran",
        "waited",
        "moved",
        "spent",
        "built",
        "found",
        "missed",
        "discovered",
        "sent",
    ]
)


# ------------------------------------------------------------------------------------------
# Feedback text
# ------------------------------------------------------------------------------------------


class _Slots(dict):  # type: ignore[type-arg]
    """Lazily invented values for context placeholders ({comp}, {n}, {role}, ...)."""

    def __init__(self, rng: random.Random, acct: str) -> None:
        super().__init__(acct=acct)
        self.rng = rng

    def __missing__(self, key: str) -> str:
        rng = self.rng
        if key == "comp":
            value = rng.choice(vocab.COMPETITORS)
        elif key == "role":
            value = rng.choice(vocab.ROLES)
        elif key == "n":
            value = str(rng.choice([25, 40, 60, 80, 120, 150, 200, 300, 450, 800, 1200]))
        elif key == "team":
            value = str(rng.choice([20, 50, 75, 100, 250, 400]))
        elif key == "months":
            value = str(rng.randint(2, 9))
        elif key == "k":
            value = str(rng.choice([30, 45, 60, 80, 120, 150, 200, 250, 400]))
        elif key == "few":
            value = str(rng.randint(2, 3))
        elif key == "more":
            value = str(rng.randint(4, 6))
        else:
            raise KeyError(key)
        self[key] = value
        return value


def _fill(template: str, slots: _Slots) -> str:
    return template.format_map(slots) if "{" in template else template


class FeedbackWriter:
    """Composes the free text a salesperson would type after hearing a need.

    Entries are assembled from a concept's pains and asks wrapped in varied frames, a subject
    (they / a persona / folks at the account), optional opener by source, variant mentions,
    workaround, business context and severity wording - so the same request yields many
    different sentences and the request title is (almost) never quoted.

    The probabilities below were tuned against all-MiniLM-L6-v2 so that nearest-request
    matching lands in a realistic band (roughly 70-90% top-1): pains alone are too indirect to
    match reliably, asks alone are too easy, and generic deal context dilutes everything.
    """

    TERSE_SHARE = 0.14  # one-liners
    LONG_SHARE = 0.30  # 3-6 sentences with opener, context, severity
    P_ASK: ClassVar[dict[str, float]] = {"terse": 0.8, "normal": 0.85, "long": 0.92}
    P_OPENER: ClassVar[dict[str, float]] = {"normal": 0.35, "long": 0.55}
    P_CONTEXT: ClassVar[dict[str, float]] = {"normal": 0.35, "long": 0.6, "long_second": 0.15}

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self._frames_any = vocab.PAIN_FRAMES_ANY
        self._frames_present = vocab.PAIN_FRAMES_ANY + vocab.PAIN_FRAMES_PRESENT
        self._frames_wish = vocab.PAIN_FRAMES_WISH

    # -- pieces --------------------------------------------------------------------------
    def _subject(self, personas: Sequence[str], acct: str) -> str:
        r = self.rng.random()
        if r < 0.55:
            return "they"
        if r < 0.9:
            return self.rng.choice(personas)
        return f"folks at {acct}"

    def _pain(self, pain: str, personas: Sequence[str], acct: str) -> str:
        first = pain.split(" ", 1)[0]
        if first in _WISH_VERBS:  # "want ...", "need ...": a wish, not a complaint
            frames = self._frames_wish
        elif first in _PAST_VERBS:  # "had two outages ...": no "Right now they had"
            frames = self._frames_any
        else:
            frames = self._frames_present
        subject = self._subject(personas, acct)
        return self.rng.choice(frames).format(S=capitalize_first(subject), s=subject, p=pain)

    def _ask(self, ask: str) -> str:
        return self.rng.choice(vocab.ASK_FRAMES).format(a=ask, A=capitalize_first(ask))

    def _mention(self, kind: str, value: str) -> str:
        mentions: list[str] = vocab.VARIANT_KINDS[kind]["mentions"]  # type: ignore[assignment]
        return self.rng.choice(mentions).format(x=value)

    # -- assembly ------------------------------------------------------------------------
    def write(
        self,
        concept: Concept,
        variants: Sequence[tuple[str, str]],
        acct: str,
        severity: str,
        source: str,
    ) -> str:
        rng = self.rng
        slots = _Slots(rng, acct)
        personas = vocab.AREA_PERSONAS[concept.area or "_nomatch"]
        pains = list(concept.pains)
        rng.shuffle(pains)
        mode = rng.random()
        opener: str | None = None
        body: list[str] = []

        if mode < self.TERSE_SHARE:
            if rng.random() < self.P_ASK["terse"]:
                body.append(self._terse(concept, slots))
            else:
                subject = self._subject(personas, acct)
                body.append(f"{capitalize_first(subject)} {pains[0]}.")
            if severity == "high" and rng.random() < 0.5:
                body.append(rng.choice(["Blocker.", "Dealbreaker for them.", "Renewal risk."]))
        else:
            form = "long" if mode >= 1 - self.LONG_SHARE else "normal"
            if rng.random() < self.P_OPENER[form]:
                opener = _fill(rng.choice(vocab.SOURCE_OPENERS[source]), slots)
            body.append(self._pain(pains[0], personas, acct))
            if rng.random() < self.P_ASK[form]:
                ask = self._ask(rng.choice(concept.asks))
                body.insert(0 if rng.random() < 0.25 else len(body), ask)
            elif rng.random() < 0.3:
                body.append(self._pain(pains[1], personas, acct))
            if form == "long":
                if rng.random() < 0.45:
                    body.append(self._pain(pains[-1], personas, acct))
                if rng.random() < 0.2:
                    workaround = rng.choice(vocab.GENERIC_WORKAROUNDS)
                    body.append(rng.choice(vocab.WORKAROUND_FRAMES).format(w=workaround))
                n_context = int(rng.random() < self.P_CONTEXT["long"]) + int(
                    rng.random() < self.P_CONTEXT["long_second"]
                )
            else:
                n_context = int(rng.random() < self.P_CONTEXT["normal"])
            for template in rng.sample(vocab.CONTEXT_SENTENCES, n_context):
                body.append(_fill(template, slots))
            if rng.random() < severity_mention_probability(severity, form):
                body.append(_fill(rng.choice(vocab.SEVERITY_SENTENCES[severity]), slots))

        # Variant requests only differ by their context, so entries usually say it.
        for kind, value in variants:
            if rng.random() < 0.85:
                body.insert(rng.randint(1, len(body)), self._mention(kind, value))

        if opener and opener.endswith(":") and ":" in body[0][:25]:
            opener = opener[:-1] + "."  # avoid "Call notes: Main complaint: ..."
        text = " ".join(([opener] if opener else []) + body)
        return self._roughen(text)

    def _terse(self, concept: Concept, slots: _Slots) -> str:
        ask = self.rng.choice(concept.asks)
        frame = self.rng.choice(vocab.TERSE_FRAMES)
        return frame.format(a=ask, A=capitalize_first(ask), acct=slots["acct"])

    def _roughen(self, text: str) -> str:
        """Notes typed in a hurry: occasional lowercase start, missing period, shorthand."""
        rng = self.rng
        if rng.random() < 0.06:
            text = text.replace(" with ", " w/ ")
        if rng.random() < 0.04:
            text = text.replace(" and ", " & ")
        if rng.random() < 0.08:
            text = text[:1].lower() + text[1:]
        if rng.random() < 0.08 and text.endswith("."):
            text = text[:-1]
        return text


# ------------------------------------------------------------------------------------------
# Feedback rows
# ------------------------------------------------------------------------------------------


def severity_mention_probability(severity: str, form: str) -> float:
    # Dealbreakers are usually called out as such; milder needs often go unqualified.
    if severity == "high":
        return 0.8 if form == "long" else 0.65
    return 0.5 if form == "long" else 0.35
