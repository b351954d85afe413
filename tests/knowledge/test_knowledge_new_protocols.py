"""The four protocols of issue 13 (huiselijk_geweld, mensenhandel, meisjesbesnijdenis,
suicidaliteit), loaded by the real loader together with the rest of the knowledge.

The test copies the knowledge directory to a temporary one, writes the four files
(changed by a mutation where a test needs one) into its protocols/ and loads it with
``load_knowledge`` (every invariant runs on load).

The checks on content are written out here, independently of knowledge.invariants,
so a bug there cannot silence them; the mutation tests at the end show that the
loader refuses a protocol file that breaks a safety rule.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from knowledge import (
    Knowledge,
    KnowledgeError,
    Protocol,
    invariants,
    iter_paths,
    load_knowledge,
    path_key_positions,
    path_referrals,
)
from knowledge.loader import PACKAGE_DIR

ROOT = Path(__file__).resolve().parents[2]
PROTOCOLS = PACKAGE_DIR / "protocols"
HELDOUT = ROOT / "tests" / "assistant" / "heldout_issue13.yml"

#: Protocol id -> the intent that starts it (ids are contracts, DESIGN.md).
NEW_PROTOCOLS = {
    "huiselijk_geweld": "melding_huiselijk_geweld",
    "mensenhandel": "melding_mensenhandel",
    "meisjesbesnijdenis": "melding_meisjesbesnijdenis",
    "suicidaliteit": "melding_suicidaliteit",
}
#: Written here, not read from the files or from knowledge.invariants.
ALWAYS_VEILIG_THUIS = {"huiselijk_geweld", "meisjesbesnijdenis"}
MIN_EXAMPLES = 25
MIN_HELDOUT_PER_PROTOCOL = 15
MIN_HELDOUT_NO_PROTOCOL = 40

FAMILY = re.compile(r"famil|\bouders?\b|broer|vader|moeder|\bzus|\booms?\b", re.IGNORECASE)
NEGATION = re.compile(r"\b(niet|geen|nooit)\b", re.IGNORECASE)
SENTENCE = re.compile(r"(?<=[.!?;:])\s+|\n+")
#: [check] facts of DOMAIN.md's "More situations" that may only stand on a verify step.
MUST_VERIFY = re.compile(r"verklaring tegen meisjesbesnijdenis|gelden ook als slachtoffer|088-9648550|088-1122112",
                         re.IGNORECASE)


def knowledge_copy(target: Path, mutate: Callable[[str, dict[str, Any]], None] | None = None) -> Path:
    """A copy of knowledge/ under ``target`` with the four protocol files (and their intent
    examples) in its protocols/; ``mutate(id, data)`` may change one first."""
    root = target / "knowledge"
    shutil.copytree(PACKAGE_DIR, root, ignore=shutil.ignore_patterns("__pycache__"))
    for new_id in NEW_PROTOCOLS if mutate is not None else ():
        data = yaml.safe_load((PROTOCOLS / f"{new_id}.yml").read_text(encoding="utf-8"))
        mutate(new_id, data)
        (root / "protocols" / f"{new_id}.yml").write_text(
            yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def kb(tmp_path_factory) -> Knowledge:
    return load_knowledge(knowledge_copy(tmp_path_factory.mktemp("kb")))


@pytest.fixture(params=sorted(NEW_PROTOCOLS))
def protocol(request, kb) -> Protocol:
    return kb.protocols[request.param]


def paths_of(protocol: Protocol) -> list:
    paths = list(iter_paths(protocol))
    assert paths, protocol.id
    return paths


def ids(path) -> list[str]:
    return [item.step.id for item in path]


def answers(path) -> dict[str, object]:
    return {item.step.id: item.answer for item in path}


def lines_of(step) -> list[str]:
    return [step.text, step.help, *step.actions, *(o.label for o in step.options),
            *(s for o in step.options for s in o.synonyms)]


def path_text(path) -> str:
    return "\n".join(line for item in path for line in (item.step.text, *item.step.actions))


def paths_through(protocol: Protocol, step_id: str, answer: object = None) -> list:
    found = [p for p in paths_of(protocol) if step_id in answers(p)
             and (answer is None or answers(p)[step_id] == answer)]
    assert found, f"{protocol.id}: no path through {step_id}={answer}"
    return found


# --------------------------------------------------------------------------- all four


def test_the_whole_knowledge_loads_with_the_new_protocols(kb):
    """The real loader, all invariants on load; the existing protocols are still there."""
    assert set(NEW_PROTOCOLS) <= set(kb.protocols)
    assert {"eergerelateerd_geweld", "seksueel_geweld", "ongewenste_zwangerschap",
            "lhbti_ondersteuning"} <= set(kb.protocols)
    for protocol_id, intent in NEW_PROTOCOLS.items():
        assert kb.protocol_for_intent(intent) is kb.protocols[protocol_id]


def test_the_invariants_module_finds_nothing(protocol):
    assert invariants.check_protocol(protocol) == []


def test_every_path_ends_in_an_outcome_with_a_key_position(protocol):
    for path in paths_of(protocol):
        end = path[-1].step
        assert end.kind == "outcome" and end.outcome and end.key_positions, ids(path)
        assert end.actions and end.referrals, end.id
        assert len(path) - 1 <= 15, ids(path)


def test_every_step_cites_a_source_from_the_catalogue(protocol, kb):
    for step in protocol.steps.values():
        assert step.source.key in kb.sources and step.source.url, step.id
        if step.is_question:
            assert step.help.strip(), step.id


def test_first_question_is_acute_danger_and_leads_to_112(protocol):
    first = protocol.first_step
    assert first.kind == "yes_no" and first.acute_answers == {"ja"}
    call = protocol.steps[first.next_for("ja")]
    assert call.kind == "instruction" and call.text.startswith("Bel nu 112")
    assert call.referrals[0] == "politie"
    for step in protocol.steps.values():
        for answer in step.acute_answers:
            target = protocol.steps[step.next_for(answer)]
            assert target.kind == "instruction" and "112" in target.text and "politie" in target.referrals


def test_check_facts_only_on_verify_steps(protocol):
    for step in protocol.steps.values():
        if any(MUST_VERIFY.search(line) for line in lines_of(step)):
            assert step.verify, f"{step.id} states a [check] fact without verify: true"
            assert re.search(r"verifi[eë]ren", step.text, re.IGNORECASE), step.id


def test_no_sentence_advises_contact_with_the_family_without_a_negation(protocol):
    contact = re.compile(r"contact|\bbel\b|\bbellen\b|informeer|inlicht|vertel|spreek|gesprek|praat|overleg"
                         r"|benader|bezoek|bemiddel|verzoen", re.IGNORECASE)
    for step in protocol.steps.values():
        for line in lines_of(step):
            for sentence in SENTENCE.split(line):
                if FAMILY.search(sentence) and contact.search(sentence):
                    assert NEGATION.search(sentence), f"{protocol.id}.{step.id}: {sentence!r}"


def test_records_hold_no_free_text_where_the_data_is_most_sensitive(kb):
    """Trafficking reports leaked in 2020; health is a special category: nothing typed."""
    for protocol_id in ("mensenhandel", "suicidaliteit"):
        assert all(step.kind != "text" for step in kb.protocols[protocol_id].steps.values()), protocol_id


def test_every_outcome_says_to_record_without_names(protocol):
    for step in protocol.steps.values():
        if step.kind == "outcome":
            assert any(re.search(r"geen (medische details of )?namen|zonder namen", a) for a in step.actions), step.id


def test_staff_are_addressed_with_u(protocol):
    informal = re.compile(r"\b(je|jij|jou|jouw|jezelf|jullie)\b", re.IGNORECASE)
    texts = [protocol.title, protocol.summary, *(line for s in protocol.steps.values() for line in lines_of(s))]
    assert [t for t in texts if informal.search(t)] == []


# --------------------------------------------------------------------------- minors (part 3)


def minor_choice(protocol: Protocol) -> list:
    return [s for s in protocol.steps.values() if s.kind == "choice" and any(o.value == "amv" for o in s.options)]


def test_each_protocol_asks_whether_the_victim_is_a_minor(protocol):
    asks = minor_choice(protocol)
    assert asks, protocol.id
    minor_paths = [p for p in paths_of(protocol) if any(item.step in asks for item in p)]
    assert minor_paths
    # only the adult-woman branch of FGM skips it (no girl at risk)
    for path in paths_of(protocol):
        if path not in minor_paths:
            assert protocol.id == "meisjesbesnijdenis" and answers(path).get("meisjes_risico") == "nee", ids(path)


def test_an_unaccompanied_minor_always_brings_in_nidos(protocol):
    for path in paths_of(protocol):
        if "amv" in answers(path).values():
            assert "nidos" in path_referrals(path), ids(path)
            assert "Nidos" in path_text(path), ids(path)
        else:
            assert "nidos" not in path_referrals(path), ids(path)


def test_parents_are_informed_unless_they_are_suspected_then_veilig_thuis_decides(kb):
    for protocol_id, question in (("huiselijk_geweld", "ouders_dader"), ("mensenhandel", "ouders_dader"),
                                  ("suicidaliteit", "geweld_thuis")):
        protocol = kb.protocols[protocol_id]
        for path in paths_through(protocol, question, "ja"):
            told = [item.step for item in path if item.step.id == "ouders_niet_informeren"]
            assert told and told[0].text.startswith("Informeer de ouders niet"), ids(path)
            assert "veilig_thuis" in told[0].referrals and "Veilig Thuis beslist" in told[0].text
        for path in paths_through(protocol, question, "nee"):
            told = [item.step for item in path if item.step.id == "ouders_informeren"]
            assert told and ("geïnformeerd" in told[0].text or "informeert u hen" in told[0].text), ids(path)


# --------------------------------------------------------------------------- huiselijk geweld


def test_hg_veilig_thuis_on_every_path(kb):
    for protocol_id in sorted(ALWAYS_VEILIG_THUIS):
        for path in paths_of(kb.protocols[protocol_id]):
            assert "veilig_thuis" in path_referrals(path), ids(path)
            assert "veilig_thuis" in path[-1].step.referrals, ids(path)


def test_hg_follows_the_five_meldcode_steps_and_the_afwegingskader(kb):
    hg = kb.protocols["huiselijk_geweld"]
    afweging = ["afweging_vermoeden", "afweging_onveilig", "afweging_hulp", "afweging_aanvaard",
                "afweging_duurzaam"]
    for path in paths_through(hg, "eer_signalen", "nee"):
        trail = ids(path)
        order = [trail.index(s) for s in ("soort_geweld", "deskundige_raadplegen", "gesprek", "afweging_vermoeden")]
        assert order == sorted(order), trail
        assert "aandachtsfunctionaris" in path_key_positions(path)
        assert "0800-2000" in path_text(path)
    for step_id in afweging:
        assert hg.steps[step_id].kind == "yes_no" and hg.steps[step_id].source.key in (
            "rijksoverheid_afwegingskader", "handelingsprotocol")
    assert hg.steps["deskundige_raadplegen"].text.startswith("Stap 2 van de meldcode")
    assert hg.steps["gesprek"].text.startswith("Stap 3 van de meldcode")
    assert hg.steps["afweging_vermoeden"].next_for("nee") == "vastleggen_geen_vermoeden"
    assert hg.steps["afweging_duurzaam"].next_for("ja") == "hulp_met_afspraken"
    for step_id in ("afweging_hulp", "afweging_aanvaard", "afweging_duurzaam"):
        assert hg.steps[step_id].next_for("nee") == "melding_veilig_thuis"


def test_hg_covers_partner_violence_child_abuse_neglect_and_witnesses(kb):
    kinds = kb.protocols["huiselijk_geweld"].steps["soort_geweld"]
    assert {"partnergeweld", "kindermishandeling", "verwaarlozing", "getuige"} <= {o.value for o in kinds.options}
    witness = kb.protocols["huiselijk_geweld"].steps[kinds.next_for("getuige")]
    assert witness.verify and witness.text.startswith("Verifiëren")  # [check] in DOMAIN.md


def test_hg_separation_and_safe_shelter_only_with_police_and_veilig_thuis(kb):
    hg = kb.protocols["huiselijk_geweld"]
    for path in paths_through(hg, "scheiden_opvang", "ja"):
        end = path[-1].step
        assert {"politie", "veilig_thuis", "vrouwenopvang"} <= set(end.referrals)
        assert any("overleg met de politie en Veilig Thuis" in a for a in end.actions)
    assert "altijd met de politie en Veilig Thuis" in hg.steps["scheiden_opvang"].help


def test_hg_honour_motives_hand_over_to_the_egg_protocol(kb):
    hg = kb.protocols["huiselijk_geweld"]
    assert kb.protocols["eergerelateerd_geweld"]  # the protocol handed over to exists
    for path in paths_through(hg, "eer_signalen", "ja"):
        end = path[-1].step
        assert end.outcome == "overdracht_eergerelateerd_geweld", ids(path)
        assert "protocol Eergerelateerd geweld" in end.text
        assert any(re.search(r"geen contact .*familie", a) for a in end.actions)
        # no afwegingskader questions are duplicated on the way
        assert not any(s.startswith("afweging_") for s in ids(path)), ids(path)
    for path in paths_through(hg, "eer_signalen", "nee"):
        assert path[-1].step.outcome != "overdracht_eergerelateerd_geweld"


# --------------------------------------------------------------------------- mensenhandel


def test_mh_forms_signals_and_key_position(kb):
    mh = kb.protocols["mensenhandel"]
    assert {"seksueel", "arbeid", "crimineel"} <= {o.value for o in mh.steps["vorm_uitbuiting"].options}
    signals = mh.steps["signalen"].text
    for word in ("weinig geld", "paspoort", "vrij", "gecontroleerd", "bedreigd", "angst", "woord"):
        assert word in signals, word
    for path in paths_through(mh, "signalen", "ja"):
        assert "contactpersoon_mensenhandel" in path_key_positions(path), ids(path)
        assert {"politie", "comensha"} <= set(path[-1].step.referrals), ids(path)
        text = path_text(path)
        assert "0900-8844" in text and "AVIM" in text and "112" in text, ids(path)


def test_mh_labour_exploitation_goes_to_the_arbeidsinspectie(kb):
    mh = kb.protocols["mensenhandel"]
    for path in paths_of(mh):
        labour = answers(path).get("vorm_uitbuiting") == "arbeid"
        assert ("arbeidsinspectie" in path_referrals(path)) == labour, ids(path)
    assert "0800-5151" in mh.steps["arbeidsinspectie"].text


def test_mh_records_are_kept_minimal(kb):
    mh = kb.protocols["mensenhandel"]
    for path in paths_through(mh, "signalen", "ja"):
        assert any("zo min mogelijk" in a and "2020" in a for a in path[-1].step.actions), ids(path)
    # Meld Misdaad Anoniem's number is [check] in DOMAIN.md: it is named without a number
    sentences = [sentence for s in mh.steps.values() for line in lines_of(s) for sentence in SENTENCE.split(line)
                 if "Meld Misdaad Anoniem" in sentence]
    assert sentences and not any(re.search(r"\d{3,}", sentence) for sentence in sentences)


# --------------------------------------------------------------------------- meisjesbesnijdenis


def test_vgv_every_family_sentence_is_negated(kb):
    vgv = kb.protocols["meisjesbesnijdenis"]
    assert {"contact_familie", "bemiddeling_familie"} <= set(vgv.forbidden_advice)
    for step in vgv.steps.values():
        for line in lines_of(step):
            for sentence in SENTENCE.split(line):
                if FAMILY.search(sentence) or re.search(r"bemiddel", sentence, re.IGNORECASE):
                    assert NEGATION.search(sentence), f"{step.id}: {sentence!r}"


def test_vgv_veilig_thuis_before_anything_about_the_parents(kb):
    """No path informs the family before Veilig Thuis is consulted: the first step
    that mentions the parents or the family says to wait for Veilig Thuis."""
    vgv = kb.protocols["meisjesbesnijdenis"]
    for path in paths_of(vgv):
        for item in path:
            if any(FAMILY.search(line) for line in (item.step.text, *item.step.actions)):
                text = item.step.text + " ".join(item.step.actions)
                assert "Veilig Thuis" in text or item.step.id == "nidos_betrekken", (ids(path), item.step.id)
                break
        assert "veilig_thuis" in path_referrals(path) and "pharos" in path[-1].step.referrals, ids(path)


def test_vgv_is_child_abuse_forbidden_also_abroad(kb):
    vgv = kb.protocols["meisjesbesnijdenis"]
    consult = vgv.steps["veilig_thuis_raadplegen"]
    assert "kindermishandeling" in consult.text and "buitenland" in consult.text and "0800-2000" in consult.text
    for path in paths_through(vgv, "situatie", "dreigt"):
        assert "veilig_thuis_raadplegen" in ids(path)
        assert path[-1].step.outcome.startswith("melding_veilig_thuis"), ids(path)
    for path in paths_through(vgv, "reis_gepland", "ja"):
        assert path[-1].step.outcome == "melding_veilig_thuis_spoed"
        assert "vandaag" in path[-1].step.text


# --------------------------------------------------------------------------- suicidaliteit


def test_sui_113_gza_not_alone_and_contactpersoon_on_every_path(kb):
    sui = kb.protocols["suicidaliteit"]
    assert sui.first_step.next_for("ja") == "bel_112"
    for path in paths_of(sui):
        assert {"zelfmoordpreventie_113", "gza"} <= set(path[-1].step.referrals), ids(path)
        text = path_text(path)
        assert "0800-0113" in text and "113.nl" in text and "gratis" in text, ids(path)
        assert "vandaag nog" in text and "GZA" in text, ids(path)
        assert "niet alleen" in text, ids(path)
        assert "contactpersoon_veiligheid" in path_key_positions(path), ids(path)


# --------------------------------------------------------------------------- intent examples and held-out set


def normalise(text: str) -> str:
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)|\[([^\]]*)\]\{[^}]*\}", r"\1\2", text)
    return " ".join(re.sub(r"[^\w]+", " ", text.lower()).split())


def heldout() -> dict[str, list[str]]:
    data = yaml.safe_load(HELDOUT.read_text(encoding="utf-8"))
    assert data["version"] == "3.1"
    found: dict[str, list[str]] = {}
    for block in data["nlu"]:
        lines = [line.strip() for line in block["examples"].splitlines() if line.strip()]
        assert all(line.startswith("- ") for line in lines), block["intent"]
        found.setdefault(block["intent"], []).extend(line[2:].strip() for line in lines)
    return found


def training_texts(kb: Knowledge) -> set[tuple[str, str]]:
    """(normalised text, intent) of every training example: the protocols' and data/nlu's."""
    texts = {(normalise(e), p.intent) for p in kb.protocols.values() for e in p.intent_examples}
    for path in (ROOT / "data" / "nlu").glob("*.yml"):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for block in data.get("nlu", []):
            for line in str(block.get("examples", "")).splitlines():
                if line.strip().startswith("- ") and "intent" in block:
                    texts.add((normalise(line.strip()[2:]), block["intent"]))
    return texts


def test_intent_examples_are_many_and_different(kb):
    seen: dict[str, str] = {}
    for protocol_id in NEW_PROTOCOLS:
        examples = kb.protocols[protocol_id].intent_examples
        assert len(examples) >= MIN_EXAMPLES, protocol_id
        for example in examples:
            key = normalise(example)
            assert key not in seen, f"{example!r} in {protocol_id} and {seen.get(key)}"
            seen[key] = protocol_id
    # no message is taught as two intents
    intents: dict[str, set[str]] = {}
    for text, intent in training_texts(kb):
        intents.setdefault(text, set()).add(intent)
    assert {text: found for text, found in intents.items() if len(found) > 1 and text in seen} == {}


def test_heldout_set_is_big_enough_and_never_trained_on(kb):
    sets = heldout()
    for intent in NEW_PROTOCOLS.values():
        assert len(set(map(normalise, sets.get(intent, [])))) >= MIN_HELDOUT_PER_PROTOCOL, intent
    assert len(set(map(normalise, sets.get("out_of_scope", [])))) >= MIN_HELDOUT_NO_PROTOCOL
    trained = {text for text, _ in training_texts(kb)}
    everything = [(intent, text) for intent, texts in sets.items() for text in texts]
    assert len({normalise(t) for _, t in everything}) == len(everything), "duplicates in the held-out set"
    for intent, text in everything:
        assert normalise(text) not in trained, f"held-out message {text!r} ({intent}) is a training example"


# --------------------------------------------------------------------------- the loader refuses a broken file


def raw_step(data: dict, step_id: str) -> dict:
    return next(s for s in data["steps"] if s["id"] == step_id)


def broken(tmp_path: Path, protocol_id: str, change: Callable[[dict], None]) -> Path:
    return knowledge_copy(tmp_path, lambda pid, data: change(data) if pid == protocol_id else None)


def test_a_hg_outcome_without_veilig_thuis_is_refused(tmp_path):
    def change(data):
        data["required_referrals"] = []
        for step in data["steps"]:
            if "veilig_thuis" in step.get("referrals", []) and step["kind"] == "outcome":
                step["referrals"].remove("veilig_thuis")

    with pytest.raises(KnowledgeError, match=r"huiselijk_geweld.*veilig_thuis"):
        load_knowledge(broken(tmp_path, "huiselijk_geweld", change))


def test_vgv_advice_to_talk_with_the_parents_is_refused(tmp_path):
    def change(data):
        raw_step(data, "melding_veilig_thuis")["actions"].append("Bespreek de zorgen eerst met de ouders.")

    with pytest.raises(KnowledgeError, match="melding_veilig_thuis"):
        load_knowledge(broken(tmp_path, "meisjesbesnijdenis", change))


def test_an_amv_path_without_nidos_is_refused(tmp_path):
    def change(data):
        raw_step(data, "nidos_betrekken")["referrals"] = []

    with pytest.raises(KnowledgeError, match="amv path without 'nidos'"):
        load_knowledge(broken(tmp_path, "suicidaliteit", change))


def test_an_acute_answer_without_112_is_refused(tmp_path):
    def change(data):
        raw_step(data, "bel_112")["text"] = "Blijf bij de bewoner."

    with pytest.raises(KnowledgeError, match="lacks 112"):
        load_knowledge(broken(tmp_path, "mensenhandel", change))


def test_fgm_asks_about_danger_for_a_girl_or_a_woman_before_it_knows_which(kb):
    """The report may be about an adult woman cut as a child (option volwassen_vrouw):
    the questions before that choice do not speak of "het meisje" alone."""
    fgm = kb.protocols["meisjesbesnijdenis"]
    assert "volwassen_vrouw" in {option.value for option in fgm.steps["situatie"].options}
    for step_id in ("acuut_gevaar", "bel_112"):
        text = " ".join(fgm.steps[step_id].text.split())
        assert "het meisje of de vrouw" in text, text
