"""NLU quality (issue 3, part 6).

* The held-out sets tests/assistant/nlu_heldout.yml and heldout_issue13.yml (the
  protocols of issue 13 and 40+ messages that belong to no protocol; written apart
  from the training data, never trained on) are classified by the model of models/current (trained once
  per test run by scripts/train.py with the real config). Intent accuracy must be
  >= 0.95; a prediction of nlu_fallback (confidence below the FallbackClassifier
  threshold) counts as wrong, because that is what the user gets. The annotated
  location / organisation / protocol / key_position entities must be extracted with
  the right value. No message of one protocol may land in another protocol (the
  confusion matrix over the report intents is printed).
* A 3-fold cross-validation over data/nlu with the real config (started in the
  background by conftest.py) must reach an accuracy >= 0.80 (see
  MIN_CROSSVAL_ACCURACY), so that broken training data fails the build.
Both reports are written to test-artifacts/ and printed at the end of the pytest run.
"""

from __future__ import annotations

import asyncio
import functools
import json
import re
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.assistant.conftest import CROSSVAL_MARK, CrossValidationRun, current_model

ROOT = Path(__file__).resolve().parents[2]
HELDOUT_FILES = (Path(__file__).with_name("nlu_heldout.yml"), Path(__file__).with_name("heldout_issue13.yml"))
TRAINING = ROOT / "data" / "nlu"
MIN_PER_INTENT = 20
MIN_ACCURACY = 0.95
# Cross-validation trains each fold on two thirds of data/nlu, so every intent loses a
# third of its examples (kies has 8, out_of_scope and goodbye are very diverse): it
# measures 0.83 (std 0.005 over the folds) where the full model scores 0.97 on the
# held-out set. The floor sits below that with a margin for other CPUs / TF builds;
# broken data (a mislabelled file, merged intents) falls far below it.
MIN_CROSSVAL_ACCURACY = 0.80
ENTITY_LABELS = ("location", "organisation", "protocol", "key_position")
# Values the held-out annotations must cover at least once.
REQUIRED_ENTITY_VALUES = {
    "location": {"TERAPEL", "BUDEL", "ZWOLLE", "GILZE", "MUSSELKANAAL"},
    "organisation": {"veilig_thuis", "fiom", "centrum_seksueel_geweld", "politie", "coc"},
    "protocol": {"eergerelateerd_geweld", "seksueel_geweld", "ongewenste_zwangerschap",
                 "lhbti_ondersteuning", "meldcode"},
    "key_position": {"contactpersoon_veiligheid", "aandachtsfunctionaris", "contactpersoon_mensenhandel",
                     "aandachtsfunctionaris_zwangere", "lhbti_contactpersoon"},
}


def normalise(text: str) -> str:
    """Lower-cased, punctuation dropped, whitespace collapsed: "Ja, klopt!" == "ja klopt"."""
    return " ".join(re.sub(r"[^\w]+", " ", text.lower()).split())


def read_nlu(path: Path) -> list[Any]:
    from rasa.shared.nlu.training_data.formats.rasa_yaml import RasaYAMLReader

    return list(RasaYAMLReader().read(path).intent_examples)


def training_texts() -> dict[str, str]:
    texts = {}
    for path in sorted(TRAINING.glob("*.yml")):
        for message in read_nlu(path):
            texts[normalise(message.get("text"))] = f"{path.name} ({message.get('intent')})"
    return texts


@dataclass(frozen=True)
class Example:
    text: str
    intent: str
    entities: frozenset[tuple[str, str]]


def heldout_examples() -> list[Example]:
    return [
        Example(
            text=message.get("text"),
            intent=message.get("intent"),
            entities=frozenset(
                (e["entity"], str(e["value"])) for e in message.get("entities") or [] if e["entity"] in ENTITY_LABELS
            ),
        )
        for path in HELDOUT_FILES
        for message in read_nlu(path)
    ]


def domain_intents() -> set[str]:
    from rasa.shared.core.domain import Domain

    domain = Domain.load(str(ROOT / "assistant" / "domain"))
    return {i for i in domain.intents if i not in {"nlu_fallback", "restart", "back", "session_start"}}


# --------------------------------------------------------------------------- set-up


def test_heldout_is_not_training_data() -> None:
    assert not [p for p in HELDOUT_FILES if TRAINING in p.parents], "the held-out sets must live outside data/"
    trained = training_texts()
    overlap = {ex.text: trained[normalise(ex.text)] for ex in heldout_examples() if normalise(ex.text) in trained}
    assert not overlap, f"held-out messages that are also training examples: {overlap}"


def test_heldout_covers_every_intent() -> None:
    examples = heldout_examples()
    counts = Counter(ex.intent for ex in examples)
    expected = domain_intents() - {"kies"}
    missing = {i: counts.get(i, 0) for i in expected if counts.get(i, 0) < MIN_PER_INTENT}
    assert not missing, f"intents with fewer than {MIN_PER_INTENT} held-out messages: {missing}"
    unknown = set(counts) - domain_intents()
    assert not unknown, f"held-out intents that are not in the domain: {unknown}"
    texts = Counter(normalise(ex.text) for ex in examples)
    assert not [t for t, n in texts.items() if n > 1], "duplicate held-out messages"


def test_heldout_annotations_cover_every_entity_value() -> None:
    found: dict[str, set[str]] = defaultdict(set)
    for ex in heldout_examples():
        for label, value in ex.entities:
            found[label].add(value)
    missing = {label: sorted(values - found[label]) for label, values in REQUIRED_ENTITY_VALUES.items()}
    assert not any(missing.values()), f"held-out set lacks annotated entity values: {missing}"


# --------------------------------------------------------------------------- held-out evaluation


@dataclass(frozen=True)
class Prediction:
    example: Example
    intent: str
    confidence: float
    entities: frozenset[tuple[str, str]]

    @property
    def correct(self) -> bool:
        return self.intent == self.example.intent


@pytest.fixture(scope="module")
def predictions(agent: Any) -> list[Prediction]:
    examples = heldout_examples()

    async def parse_all() -> list[dict[str, Any]]:
        return [await agent.parse_message(ex.text) for ex in examples]

    results = asyncio.run(parse_all())
    return [
        Prediction(
            example=ex,
            intent=parsed["intent"]["name"],
            confidence=float(parsed["intent"].get("confidence") or 0.0),
            entities=frozenset(
                (e["entity"], str(e["value"])) for e in parsed.get("entities", []) if e["entity"] in ENTITY_LABELS
            ),
        )
        for ex, parsed in zip(examples, results, strict=True)
    ]


def heldout_report(preds: list[Prediction]) -> str:
    accuracy = sum(p.correct for p in preds) / len(preds)
    intents = sorted({p.example.intent for p in preds} | {p.intent for p in preds})
    lines = [f"model: {current_model().name}", f"held-out messages: {len(preds)}",
             f"intent accuracy: {accuracy:.3f} (required >= {MIN_ACCURACY})", "",
             f"{'intent':34} {'support':>7} {'correct':>7} {'precision':>9} {'recall':>6} {'f1':>5}"]
    for intent in intents:
        support = sum(p.example.intent == intent for p in preds)
        predicted = sum(p.intent == intent for p in preds)
        tp = sum(p.correct and p.intent == intent for p in preds)
        precision = tp / predicted if predicted else 0.0
        recall = tp / support if support else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        lines.append(f"{intent:34} {support:7d} {tp:7d} {precision:9.2f} {recall:6.2f} {f1:5.2f}")
    confusions: dict[tuple[str, str], list[Prediction]] = defaultdict(list)
    for p in preds:
        if not p.correct:
            confusions[(p.example.intent, p.intent)].append(p)
    lines += ["", "confusion pairs (expected -> predicted):"]
    if not confusions:
        lines.append("  none")
    for (expected, got), wrong in sorted(confusions.items(), key=lambda item: -len(item[1])):
        lines.append(f"  {expected} -> {got}: {len(wrong)}")
        lines.extend(f"      {p.confidence:.2f}  {p.example.text}" for p in wrong)
    missed = [(p, sorted(p.example.entities - p.entities)) for p in preds if p.example.entities - p.entities]
    lines += ["", f"annotated entities not extracted: {len(missed)} message(s)"]
    lines.extend(f"  {m}  in: {p.example.text}  (got {sorted(p.entities)})" for p, m in missed)
    return "\n".join(lines)


@functools.cache
def protocol_intents() -> frozenset[str]:
    from knowledge import load_knowledge

    return frozenset(p.intent for p in load_knowledge().protocols.values())


def is_protocol_intent(intent: str) -> bool:
    return intent in protocol_intents()


@functools.cache
def general_path_intent() -> str | None:
    from knowledge import load_knowledge

    general = load_knowledge().general_path
    return general.intent if general else None


def confusion_matrix(preds: list[Prediction]) -> str:
    """Rows: the expected report intent ("algemeen": the safe general path; "overig": any
    other intent); columns: what the model said."""
    def label(intent: str) -> str:
        if intent == general_path_intent():
            return "algemeen"
        return intent.removeprefix("melding_") if is_protocol_intent(intent) else "overig"

    labels = sorted({label(p.example.intent) for p in preds} | {label(p.intent) for p in preds},
                    key=lambda name: (name in ("algemeen", "overig"), name))
    counts = Counter((label(p.example.intent), label(p.intent)) for p in preds)
    width = max(len(name) for name in labels) + 1
    corner = "expected / predicted"
    lines = [f"{corner:{width + 6}}" + "".join(f"{name[:10]:>11}" for name in labels)]
    lines += [f"{row:{width + 6}}" + "".join(f"{counts[(row, col)]:11d}" for col in labels) for row in labels]
    return "\n".join(lines)


def test_heldout_intent_accuracy(predictions: list[Prediction], nlu_report: Callable[[str, str, str], None]) -> None:
    report = heldout_report(predictions) + "\n\nconfusion matrix (report intents; overig = any other intent):\n" + (
        confusion_matrix(predictions))
    nlu_report("NLU held-out evaluation (tests/assistant/nlu_heldout.yml, heldout_issue13.yml)", report,
               "nlu_report.txt")
    accuracy = sum(p.correct for p in predictions) / len(predictions)
    assert accuracy >= MIN_ACCURACY, report


def test_no_message_of_one_protocol_lands_in_another(predictions: list[Prediction]) -> None:
    wrong = [(p.example.text, p.example.intent, p.intent, round(p.confidence, 2)) for p in predictions
             if is_protocol_intent(p.example.intent) and is_protocol_intent(p.intent) and not p.correct]
    assert not wrong, f"held-out messages started the wrong protocol (text, expected, got, confidence): {wrong}"


@pytest.mark.parametrize("label", ENTITY_LABELS)
def test_heldout_entities_are_extracted(predictions: list[Prediction], label: str) -> None:
    annotated = [p for p in predictions if any(lbl == label for lbl, _ in p.example.entities)]
    assert annotated, f"no held-out message annotates {label}"
    missed = [
        (p.example.text, sorted(e for e in p.example.entities - p.entities if e[0] == label), sorted(p.entities))
        for p in annotated
        if any(e[0] == label for e in p.example.entities - p.entities)
    ]
    assert not missed, f"{label} not extracted (text, missing, got): {missed}"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("in Ter Apel", ("location", "TERAPEL")),
        ("bwn in ter-apel", ("location", "TERAPEL")),
        ("azc budel", ("location", "BUDEL")),
        ("wat doet Fiom", ("organisation", "fiom")),
        ("nummer van VT", ("organisation", "veilig_thuis")),
        ("stap 2 van de meldcode", ("protocol", "meldcode")),
        ("stappen EGG", ("protocol", "eergerelateerd_geweld")),
        ("wie is de cp veiligheid", ("key_position", "contactpersoon_veiligheid")),
        ("wie is de AF zwangere", ("key_position", "aandachtsfunctionaris_zwangere")),
        # Who the resident is, and the verb: a report names its protocol without its name.
        ("hoi collega, een jongen wordt gepest omdat hij homo is", ("protocol", "lhbti_ondersteuning")),
        ("een lesbische bewoonster wordt bedreigd", ("protocol", "lhbti_ondersteuning")),
        ("goedemiddag, een meisje is verkracht", ("protocol", "seksueel_geweld")),
    ],
)
def test_entity_values_after_synonym_mapping(agent: Any, text: str, expected: tuple[str, str]) -> None:
    """Short spellings map to the ids the actions expect (EntitySynonymMapper)."""
    parsed = asyncio.run(agent.parse_message(text))
    assert expected in {(e["entity"], str(e["value"])) for e in parsed.get("entities", [])}, parsed.get("entities")


# --------------------------------------------------------------------------- cross-validation


def crossval_summary(log: str) -> dict[str, str]:
    """The "test Accuracy: 0.913 (0.012)" lines of the intent block (mean and std over folds)."""
    block = log.split("Intent evaluation results", 1)[-1].split("Entity evaluation results", 1)[0]
    return dict(re.findall(r"test ([\w-]+): (\d\.\d+ \(\d\.\d+\))", block))


@pytest.mark.crossval
def test_crossvalidation(crossval_run: CrossValidationRun, nlu_report: Callable[[str, str, str], None]) -> None:
    code = crossval_run.wait(timeout=1500)
    log = crossval_run.log.read_text(errors="replace")
    assert code == 0, log[-4000:]
    report = json.loads((crossval_run.out / "intent_report.json").read_text())
    summary = crossval_summary(log)
    lines = [f"{CROSSVAL_MARK}: rasa test nlu --cross-validation --folds 3 over data/nlu (assistant/config.yml)",
             "mean (std) over the folds: " + ", ".join(f"{k} {v}" for k, v in summary.items()),
             f"pooled test accuracy: {report['accuracy']:.3f} (required >= {MIN_CROSSVAL_ACCURACY})", "",
             f"{'intent':34} {'support':>7} {'precision':>9} {'recall':>6} {'f1':>5}  confused with"]
    for intent, row in sorted(report.items()):
        if not isinstance(row, dict) or intent.endswith(" avg"):
            continue
        confused = ", ".join(f"{k} {v}" for k, v in sorted(row.get("confused_with", {}).items(), key=lambda kv: -kv[1]))
        lines.append(f"{intent:34} {row['support']:7d} {row['precision']:9.2f} {row['recall']:6.2f} "
                     f"{row['f1-score']:5.2f}  {confused}")
    text = "\n".join(lines)
    nlu_report("NLU cross-validation (3 folds, data/nlu)", text, "nlu_crossvalidation.txt")
    assert report["accuracy"] >= MIN_CROSSVAL_ACCURACY, text
