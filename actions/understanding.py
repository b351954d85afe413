"""Understanding typed Dutch: answers to protocol questions and danger signals.

Plain Python (no Rasa, no knowledge beyond a step's options), so every rule here
is tested on its own with a table of typed answers (tests/actions/test_typed_answers.py).
A typed answer that carries the information answers the question: "ongeveer 8
weken" on a weeks question is 8, "twee dagen geleden" on a days question is 2,
"ja, gisteren" on a yes/no question is yes. Text that is genuinely unclear is
not guessed at: the caller asks again.
"""

from __future__ import annotations

import difflib
import math
import re
import unicodedata
from collections.abc import Iterable

from knowledge import UNKNOWN, Option, Step

__all__ = [
    "UNKNOWN",
    "is_unknown",
    "is_unsure",
    "mentions_any",
    "normalise_text",
    "parse_amount",
    "parse_choice",
    "parse_number",
    "parse_step_number",
    "parse_yes_no",
    "says_only_yes_or_no",
    "signals_danger_now",
]


def normalise_text(text: str) -> str:
    """Case-folded, accents removed, punctuation to spaces, single spaces."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(re.sub(r"[^\w]+", " ", plain).split())


# --------------------------------------------------------------------------- not knowing

#: "weet ik niet", "geen idee", "onbekend": the answer is not known.
_NOT_KNOWN = (r"geen (flauw )?idee|geen flauw benul|(weet|weten)( \w+){0,3} niet|niet bekend|onbekend|"
              r"onduidelijk|weet niemand")
_UNKNOWN_RE = re.compile(rf"\b({_NOT_KNOWN})\b")
#: Not known, or in doubt ("ik twijfel", "niet zeker").
_UNSURE_RE = re.compile(rf"\b({_NOT_KNOWN}|twijfel\w*|niet zeker)\b")


def is_unknown(text: str) -> bool:
    """True when the message says the answer is not known ("Weet ik niet")."""
    return bool(_UNKNOWN_RE.search(normalise_text(text)))


#: "wat kun je allemaal?", "waarmee kan jij helpen", "hoe werk je?": the NLU takes these
#: for out of scope (1.00). A question to the assistant ("je", "jij"), not "wat kan ik doen".
_ASKS_WHAT_IT_DOES = re.compile(
    r"^(wat|waarmee|waarvoor|waarbij|hoe)\b(?: \w+){0,2} (kun|kan|doe|werk|help) j(?:e|ij)\b(?: \w+){0,4}$"
)


def asks_what_the_assistant_does(text: str) -> bool:
    """True for a short question what the assistant can do or how it works."""
    return bool(_ASKS_WHAT_IT_DOES.match(normalise_text(text)))


def is_unsure(text: str) -> bool:
    """True when the message says the answer is not known or in doubt."""
    return bool(_UNSURE_RE.search(normalise_text(text)))


# --------------------------------------------------------------------------- yes / no

_YES = {"ja", "jah", "jazeker", "jawel", "jaja", "jep", "jup", "yes", "zeker", "klopt", "inderdaad",
        "correct", "wel", "absoluut", "natuurlijk", "uiteraard", "akkoord", "j", "juist", "precies",
        "yep", "ok", "oke"}
#: Yes words that are the answer itself; the others ("zeker", "klopt") turn into a
#: no when a negation follows ("zeker niet", "klopt niet").
_PLAIN_YES = {"ja", "jah", "jazeker", "jawel", "jaja", "jep", "jup", "yes", "yep", "j"}
_NO = {"nee", "neen", "neeh", "neuh", "nope", "no", "niet", "geen", "nooit", "n", "neej"}
_NEGATIONS = {"niet", "geen", "nee", "nooit"}
#: Words people put before the answer itself ("ik denk het niet", "dat klopt",
#: "volgens mij wel").
_FILLERS = {"dat", "het", "ik", "denk", "eh", "uh", "euh", "ehm", "hmm", "nou", "tja", "oh", "o", "nu",
            "is", "er", "volgens", "mij", "geloof", "ja", "nee",
            # "op dit moment niet", "momenteel niet", "nu even niet": the time the question asked about
            "op", "dit", "moment", "momenteel", "even"}


def parse_yes_no(text: str) -> str | None:
    """"ja"/"nee" for a typed yes/no answer, None when it is neither.

    Extra words after the answer do not matter ("ja, gisteren", "nee hoor, ze
    is alleen"); not knowing is no answer (``is_unsure``), and "ja nee" is
    unclear.
    """
    if is_unsure(text):
        return None
    words = normalise_text(text).split()
    if words[:2] in (["ja", "nee"], ["nee", "ja"]):
        return None
    while words and words[0] in _FILLERS - {"ja", "nee"}:
        words = words[1:]
    if not words:
        return None
    first = words[0]
    if first in _NO:
        return "nee"
    if first in _PLAIN_YES:
        return "ja"
    if first in _YES:
        return "nee" if _NEGATIONS & set(words[1:3]) else "ja"
    return None


_YES_NO_OR_FILLER = frozenset(_YES | _NO | _FILLERS | {"hoor"})


def says_only_yes_or_no(text: str) -> bool:
    """True when every word is a yes or no word or a filler ("jawel", "nee hoor", "ok",
    "ik denk het niet"): nothing that describes a situation, where a question asks
    for a description. Not knowing ("weet ik niet") is not caught here: a counsellor
    who does not know must not be stuck on the question."""
    words = normalise_text(text).split()
    return bool(words) and all(word in _YES_NO_OR_FILLER for word in words)


#: A message that starts with one of these asks something (a look-up).
_QUESTION_WORDS = frozenset({"wat", "wie", "wanneer", "waar", "welke", "welk", "hoe", "hoeveel", "waarom", "mag",
                             "moet", "kan", "kun", "kunt", "wil"})


def asks_a_question(text: str) -> bool:
    """"wat doet Pharos?", "wie is de contactpersoon": a question mark or a question word first."""
    words = normalise_text(text).split()
    return "?" in text or bool(words and words[0] in _QUESTION_WORDS)


#: Words that carry no topic of their own in a short description ("een kind bij zijn ouders").
_FUNCTION_WORDS = frozenset({
    "een", "de", "het", "die", "dat", "deze", "dit", "bij", "met", "van", "voor", "aan", "in", "op", "uit",
    "naar", "zijn", "haar", "hun", "hij", "ze", "zij", "is", "was", "en", "of", "hier", "er", "wie",
    "nog", "wel", "gewoon", "denk", "ik", "volgens", "mij", "iemand"})


def echoes_option(text: str, option: Option) -> bool:
    """True when every word of ``text`` that carries meaning is a word of ``option``'s
    label, value or synonyms: the message describes that option ("een kind bij zijn
    ouders" for "Een kind dat met zijn of haar ouders hier woont") and reports nothing else."""
    named = {word for name in (option.value.replace("_", " "), option.label, *option.synonyms)
             for word in normalise_text(name).split()}
    # An age beside the option ("hij is 17, zonder ouders") says nothing else either.
    words = [word for word in normalise_text(text).split()
             if word not in _FUNCTION_WORDS and word not in _AMOUNT_WORDS and not word.isdigit()]
    return bool(words) and all(word in named or _typo_of_one(word, named) for word in words)


#: How close a typed word must be to a known one to be taken for it (difflib's ratio), and
#: how long it must be: "oudrs" is "ouders", "man" is not "mand".
_TYPO_CUTOFF = 0.8
_TYPO_MIN_LENGTH = 4


def _typo_of_one(word: str, known: Iterable[str]) -> bool:
    """True when ``word`` is a typo of one of the ``known`` words."""
    return len(word) >= _TYPO_MIN_LENGTH and bool(
        difflib.get_close_matches(word, list(known), n=1, cutoff=_TYPO_CUTOFF))


# --------------------------------------------------------------------------- numbers

#: Words that may stand around a number in a bare answer ("ongeveer 15 jaar oud").
_AMOUNT_WORDS = frozenset({"ongeveer", "rond", "circa", "bijna", "pas", "al", "oud", "jaar", "jaren", "week", "weken",
                           "dag", "dagen", "maand", "maanden", "keer"})


def says_only_an_amount(text: str) -> bool:
    """True when the message is a number and nothing else that means something: "15",
    "ongeveer vijftien weken", "ze is 17 jaar"."""
    words = [word for word in normalise_text(text).split() if word not in _FUNCTION_WORDS]
    numbers = [word for word in words if word.isdigit() or _number_word(word) is not None]
    return bool(numbers) and all(word in numbers or word in _AMOUNT_WORDS for word in words)


_UNITS = {"nul": 0, "een": 1, "twee": 2, "drie": 3, "vier": 4, "vijf": 5, "zes": 6, "zeven": 7,
          "acht": 8, "negen": 9}
_SMALL = {**_UNITS, "tien": 10, "elf": 11, "twaalf": 12, "dertien": 13, "veertien": 14,
          "vijftien": 15, "zestien": 16, "zeventien": 17, "achttien": 18, "negentien": 19}
_TENS = {"twintig": 20, "dertig": 30, "veertig": 40, "vijftig": 50, "zestig": 60, "zeventig": 70,
         "tachtig": 80, "negentig": 90}
_COMPOUND = re.compile(rf"^({'|'.join(_UNITS)})en({'|'.join(_TENS)})$")


def _number_word(word: str) -> int | None:
    if word in _SMALL:
        return _SMALL[word]
    if word in _TENS:
        return _TENS[word]
    if word == "honderd":
        return 100
    match = _COMPOUND.match(word)  # "eenentwintig", "tweeentwintig" (tweeëntwintig)
    if match:
        return _UNITS[match.group(1)] + _TENS[match.group(2)]
    return None


def parse_number(text: str) -> int | None:
    """The number in a typed answer: digits or Dutch number words, else None."""
    digits = re.search(r"-?\d+", text)
    if digits:
        return int(digits.group())
    words = normalise_text(text).split()
    if words in (["geen"], ["geen", "een"]):
        return 0
    for word in words:
        # "een" is mostly the article ("een week geleden"); only a bare "een"
        # or the stressed "één" is the number one.
        if word == "een" and len(words) > 1 and "één" not in text.casefold():
            continue
        value = _number_word(word)
        if value is not None:
            return value
    return None


# --------------------------------------------------------------------------- amounts with a unit

#: Days per unit. A month is 30 days and a year 365: close enough for the
#: bands the protocols ask about (e.g. three months is 13 weeks).
_DAYS_PER = {"uur": 1 / 24, "dag": 1.0, "week": 7.0, "maand": 30.0, "jaar": 365.0}
_UNIT_WORDS = {
    "uur": "uur", "uren": "uur", "u": "uur",
    "dag": "dag", "dagen": "dag", "dagje": "dag", "dagjes": "dag", "d": "dag",
    "week": "week", "weken": "week", "weekjes": "week", "wk": "week", "wkn": "week", "w": "week",
    "maand": "maand", "maanden": "maand", "mnd": "maand", "maandjes": "maand",
    "jaar": "jaar", "jaren": "jaar", "jr": "jaar",
}
#: How close a converted amount must be to a whole number to count as one.
_SLACK = 0.1
#: The question's unit (``unit`` of a number step) in the words above.
_STEP_UNITS = {"days": "dag", "weeks": "week", "years": "jaar"}
#: Relative days: how many days ago.
_DAYS_AGO = {
    "vandaag": 0, "vannacht": 0, "vanochtend": 0, "vanmorgen": 0, "vanmiddag": 0, "vanavond": 0,
    "gisteren": 1, "gisteravond": 1, "gisternacht": 1, "gistermiddag": 1, "gistermorgen": 1,
    "gisterochtend": 1, "eergisteren": 2,
}
_MONTH_NAMES = {"januari", "februari", "maart", "april", "mei", "juni", "juli", "augustus",
                "september", "oktober", "november", "december", "jan", "feb", "mrt", "apr", "jun",
                "jul", "aug", "sep", "sept", "okt", "nov", "dec"}
#: Words that make an amount a guess without a number ("een paar dagen"): unclear.
_VAGUE = {"paar", "aantal", "enkele", "sommige", "meerdere", "wat", "lang", "lange", "kort", "korte"}
#: An amount: digits (a decimal comma or point is kept as "_", see parse_amount),
#: a number word, "anderhalf".
_AMOUNT = r"(\d+(?:_\d+)?|[a-z]+)"
_UNIT = rf"({'|'.join(_UNIT_WORDS)})"


def _amount_value(token: str) -> float | None:
    if re.fullmatch(r"\d+(?:_\d+)?", token):
        return float(token.replace("_", "."))
    if token in ("anderhalf", "anderhalve"):
        return 1.5
    if token in ("half", "halve"):
        return 0.5
    if token == "een":  # "een week": the article makes it one
        return 1.0
    value = _number_word(token)
    return None if value is None else float(value)


def _amounts_in_days(plain: str) -> list[float] | None:
    """Every amount with a unit in the text, as days; None when a date or a
    vague amount ("een paar dagen") makes the text unclear."""
    if re.search(rf"\b\d{{1,2}} ({'|'.join(_MONTH_NAMES)})\b", plain):
        return None  # "op 3 mei": a date; the counsellor can count the days
    found: list[float] = []
    # "een week of acht", "een dag of drie": about eight weeks, about three days.
    for match in re.finditer(rf"\been {_UNIT} of {_AMOUNT}\b", plain):
        value = _amount_value(match.group(2))
        if value is not None:
            found.append(value * _DAYS_PER[_UNIT_WORDS[match.group(1)]])
    if found:
        return found
    # "3 of 4 dagen", "tussen 8 en 10 weken", "8-10 weken" (the dash is a space here).
    for match in re.finditer(rf"\b{_AMOUNT} (?:(?:of|tot|en|a) )?{_AMOUNT} {_UNIT}\b", plain):
        low, high = _amount_value(match.group(1)), _amount_value(match.group(2))
        if low is not None and high is not None and "een" not in (match.group(1), match.group(2)):
            days = _DAYS_PER[_UNIT_WORDS[match.group(3)]]
            found.extend((low * days, high * days))
    if found:
        return found
    previous_end, previous_unit = -1, ""
    for match in re.finditer(rf"\b{_AMOUNT} {_UNIT}\b", plain):
        amount, unit = match.group(1), _UNIT_WORDS[match.group(2)]
        before = plain[: match.start()].split()
        if unit == "uur" and before and before[-1] == "om":
            continue  # "om 10 uur": a clock time
        if amount in _VAGUE:
            return None
        value = _amount_value(amount)
        if value is None:
            continue
        if amount in ("half", "halve") and len(before) >= 3 and before[-2:] == ["en", "een"]:
            value += _amount_value(before[-3]) or 0  # "twee en een halve week"
        if found and plain[previous_end:match.start()] == " en " and unit != previous_unit:
            found[-1] += value * _DAYS_PER[unit]  # "2 weken en 3 dagen"
        else:
            found.append(value * _DAYS_PER[unit])
        previous_end, previous_unit = match.end(), unit
    return found


def parse_amount(text: str, unit: str | None = None, *, round_up: bool = False) -> int | None:
    """The number a typed answer gives in ``unit`` (``days``, ``weeks``, ``years``;
    None: a plain count), else None.

    A unit named in the answer is converted to the question's ("een week
    geleden" is 7 when days are asked, "drie maanden" 13 when weeks are);
    "gisteren" is 1 day. A range ("tussen 8 en 10 weken") and a converted
    fraction are taken at the safe side the step names: the highest with
    ``round_up`` (weeks of a pregnancy: nearer the limit is more urgent), else
    the lowest (days since an assault: the earlier window is more urgent; an
    age: the youngest that fits).
    """
    target = _STEP_UNITS.get(unit or "")
    if target is None:
        return parse_number(text)
    if text.strip().startswith("-"):
        return None
    # "1,5 week": the decimal separator would become a space ("1 5 week", a range).
    plain = normalise_text(re.sub(r"(\d)[.,](\d)", r"\1_\2", text))
    pick = max if round_up else min
    amounts = _amounts_in_days(plain)
    if amounts is None:
        return None
    relative = [days for word, days in _DAYS_AGO.items() if re.search(rf"\b{word}\b", plain)]
    if relative and target == "dag":
        return pick(relative)  # "gisteren om 10 uur" is one day
    if amounts:
        values = [days / _DAYS_PER[target] for days in amounts]
        # Conversions that are whole within a month's or year's slack stay whole (14
        # days is 2 weeks, half a year 26 weeks); other fractions go to the safe side.
        rounded = [round(v) if abs(v - round(v)) < _SLACK else (math.ceil(v) if round_up else math.floor(v))
                   for v in values]
        return int(pick(rounded))
    if set(plain.split()) & set(_UNIT_WORDS) and set(plain.split()) & _VAGUE:
        return None
    numbers = [float(n.replace("_", ".")) for n in re.findall(r"\d+(?:_\d+)?", plain)]
    if not numbers:
        single = parse_number(text)
        numbers = [single] if single is not None else []
    if not numbers:
        return None
    return int((math.ceil if round_up else math.floor)(pick(numbers)))


# --------------------------------------------------------------------------- choices

_ORDINALS = {"eerste": 1, "tweede": 2, "derde": 3, "vierde": 4, "vijfde": 5, "zesde": 6,
             "zevende": 7, "achtste": 8, "negende": 9, "tiende": 10}


def parse_step_number(text: str) -> int | None:
    """The step number asked for: "stap 4", "stap vier", "de vierde stap", "4e stap"."""
    words = normalise_text(text).split()
    for word in words:
        if word in _ORDINALS:
            return _ORDINALS[word]
        ordinal = re.fullmatch(r"(\d+)(e|de|ste)?", word)
        if ordinal:
            return int(ordinal.group(1))
    for index, word in enumerate(words[:-1]):
        if word == "stap":
            following = words[index + 1]
            # After "stap" the word "een" (één) is the number one, not the article.
            value = 1 if following == "een" else _number_word(following)
            if value is not None:
                return value
    values = [_number_word(w) for w in words if w != "een"]
    return next((v for v in values if v is not None), None)


#: Words that deny what follows them in a choice answer ("geen ouders in Nederland").
_CHOICE_NEGATORS = frozenset({"zonder", "geen", "niet", "nooit"})
#: How many words after a negator it denies: "zonder haar ouders", "niet met zijn ouders".
_NEGATED_SPAN = 3


def _negated_positions(words: list[str]) -> set[int]:
    """Indexes of the words a negator denies, the negator included."""
    return {j for i, word in enumerate(words) if word in _CHOICE_NEGATORS
            for j in range(i, min(i + _NEGATED_SPAN + 1, len(words)))}


def _named(name: list[str], words: list[str], negated: set[int]) -> bool:
    """True when ``words`` say ``name`` somewhere it is not denied; a name that is itself
    a denial ("zonder ouders", "niet alleenstaand") counts as said."""
    size = len(name)
    return any(words[i:i + size] == name and (i not in negated or name[0] in _CHOICE_NEGATORS)
               for i in range(len(words) - size + 1))


def parse_choice(step: Step, text: str, keuze: str | None = None) -> str | None:
    """The option value a choice answer names, None when unclear or ambiguous."""
    if keuze:
        option = step.option_for(str(keuze))
        if option:
            return option.value
    if not text.strip() or text.lstrip().startswith("/"):
        return None
    wanted = normalise_text(text)
    names = {normalise_text(n): o.value for o in step.options for n in (o.value, o.label, *o.synonyms)}
    if wanted in names:
        return names[wanted]
    if is_unknown(text):
        # "geen idee" is the option that means not knowing, never the one named
        # "geen" (no threat); without such an option it is no answer.
        unknown = {value for name, value in names.items() if is_unknown(name)}
        if len(unknown) > 1:
            # "ze weet het nog niet" is the option that has it as a synonym (doubt);
            # else the option that is itself "weet niet" / "onbekend".
            padded = f" {wanted} "
            named = {value for name, value in names.items() if value in unknown and f" {name} " in padded}
            itself = {o.value for o in step.options if is_unknown(o.value.replace("_", " ")) or is_unknown(o.label)}
            unknown = named or (itself & unknown)
        return unknown.pop() if len(unknown) == 1 else None

    # A number or ordinal picks the option by its position on the buttons.
    words = wanted.split()
    position = next((_ORDINALS[w] for w in words if w in _ORDINALS), None)
    if position is None and len(words) <= 3:
        position = parse_number(text)
    by_age = any(option.has_ages for option in step.options)
    if position is not None and (1 <= position <= len(step.options) or not by_age):
        return step.options[position - 1].value if 1 <= position <= len(step.options) else None

    # An option named inside a sentence ("ze wil naar de vrouwenopvang"), not one named
    # only to be denied: "zonder ouders" is not the option "ouders".
    negated = _negated_positions(words)
    contained = {value for name, value in names.items() if name and _named(name.split(), words, negated)}
    if len(contained) == 1:
        return contained.pop()
    if contained:
        return None

    # An age picks the option whose ages hold it: "een man van 30" is the adult. A minor's
    # age alone fits a child with parents and an amv alike: unclear.
    age = parse_amount(text, "years") if by_age else None
    if age is not None:
        fitting = [option.value for option in step.options if option.holds_age(age)]
        return fitting[0] if len(fitting) == 1 else None

    # Typos: the whole answer (unless it denies something), then its longer words, against every name.
    candidates = ([] if negated else [wanted]) + [w for i, w in enumerate(words)
                                                  if len(w) >= _TYPO_MIN_LENGTH and i not in negated]
    for candidate in candidates:
        close = difflib.get_close_matches(candidate, list(names), n=2, cutoff=_TYPO_CUTOFF)
        if len(close) == 1 or (close and names[close[0]] == names[close[-1]]):
            return names[close[0]]
    return None


# --------------------------------------------------------------------------- danger now

_WEAPONS = re.compile(r"\b(mes|messen|wapen|wapens|pistool|vuurwapen|geweer|bijl|schaar|steekpartij|"
                      r"schietpartij|geschoten)\b")
#: "help" first: the counsellor writes while it happens ("help er is een steekpartij").
_NOW = re.compile(r"\b(nu|op dit moment|momenteel|op het moment|zojuist|net|direct|meteen)\b|^help\b")
_VIOLENCE = re.compile(
    r"\b(geslagen|slaat|sloeg|aangevallen|valt .{0,20}aan|bedreigd|bedreigt|mishandeld|mishandelt|"
    r"verkracht|gewurgd|wurgt|gestoken|steekt|opgesloten|sluit .{0,20}op|vastgehouden|gewond|bloedt|"
    r"achtervolgd|achtervolgt|ontvoerd|meegenomen|in gevaar|vecht|vechten|gevecht|"
    # a suicide attempt under way ("hij staat nu op het dak", "ze heeft net pillen ingenomen")
    r"ophangen|op te hangen|springen|te springen|op het dak|op de brug|overdosis|pillen ingenomen|"
    r"pillen geslikt|pillen genomen|polsen|"
    r"van het leven|zichzelf iets aan)\b"
)
_ALWAYS_ACUTE = re.compile(
    r"\b(acuut gevaar|acute dreiging|direct gevaar|levensgevaar|levensbedreigend|doodsbedreiging|"
    r"vermoorden|vermoord|dood maken|ombrengen|zelfmoord|suicide|suicidaal|112|"
    # someone who does not respond needs an ambulance ("er ligt iemand bewusteloos")
    r"bewustelo{1,2}s|buiten bewustzijn|reanimeren|reanimatie)\b"
)
#: Long words of danger now that a counsellor typing in a hurry misspells ("bewustloos",
#: "levensgevar", "steekparij"): one letter added, dropped, changed or swapped still
#: counts. Only these, and only words of about their length: "animatie" is no
#: "reanimatie" and "vermoeden" no "vermoorden".
_MISSPELLABLE = ("bewusteloos", "levensgevaar", "levensbedreigend", "doodsbedreiging", "vermoorden", "zelfmoord",
                 "reanimeren", "reanimatie", "steekpartij", "schietpartij", "vuurwapen")
#: The same for the long violence words that mean danger with "nu" ("ze wordt nu
#: mishandelt", "hij is net aangevalen"); not "meegenomen", one letter from "meegekomen".
_MISSPELLABLE_VIOLENCE = ("aangevallen", "mishandeld", "mishandelt", "opgesloten", "vastgehouden", "achtervolgd",
                          "achtervolgt")
_MISSPELLING_CUTOFF = 0.88


def _misspelt(plain: str, words: tuple[str, ...]) -> bool:
    return any(abs(len(word) - len(close)) <= 1
               for word in plain.split() if len(word) >= 8
               for close in difflib.get_close_matches(word, words, n=len(words), cutoff=_MISSPELLING_CUTOFF))


#: The same, said with its own "niet" (read before negations are switched off).
_UNRESPONSIVE = re.compile(r"\b(niet aanspreekbaar|ademt niet|reageert niet meer|niet meer wakker)\b")
#: Whoever threatens is here now: "haar broers wachten buiten bij de poort", "haar vader
#: is op de locatie". Named as a relative, partner or perpetrator, so "de tolk wacht
#: buiten" and "hij staat buiten" (a resident) are no alarm; the tense is the present.
_PRESENT_THREAT = re.compile(
    r"\b(broer|broers|vader|moeder|oom|ooms|neef|neven|zus|zussen|familie|familieleden|schoonfamilie|"
    r"schoonvader|man|echtgenoot|ex|expartner|partner|vriend|dader|daders|pleger|plegers|uitbuiter|"
    r"uitbuiters|pooier|mannen|landgenoten)\b(?: \w+){0,4} (staat|staan|wacht|wachten|is|zijn)"
    r"(?: nu| er| weer| al| hier){0,2} (buiten|bij de poort|aan de poort|bij de ingang|aan de deur|voor de deur|"
    r"voor haar deur|voor zijn deur|bij de deur|bij het hek|aan het hek|voor het hek|bij de receptie|"
    r"op de locatie|op het terrein|in het gebouw|op de gang)\b"
)
#: "niet in gevaar", "geen wapen", "geen acuut gevaar": a negation switches off
#: the few words after it, within its clause: "hij kan niet meer, heeft een plan" keeps
#: the plan, and so does "geen plan maar wel een touw" the rope.
_NEGATED = re.compile(r"\b(niet|geen|nooit)( \w+){0,3}")
_CLAUSE = re.compile(r"[,.;:!?]+|\bmaar\b", re.IGNORECASE)


def signals_danger_now(text: str, context_phrases: tuple[str, ...] = ()) -> bool:
    """True when a typed message says someone is in danger right now.

    A conservative backstop for the NLU intent ``acuut_gevaar``: a false alarm
    costs one extra sentence, a miss could cost a life. ``context_phrases`` are word
    stems that mean danger only in the protocol being followed (its ``danger_phrases``).
    """
    if _UNRESPONSIVE.search(normalise_text(text)):
        return True
    plain = " ".join(_NEGATED.sub(" ", normalise_text(clause)) for clause in _CLAUSE.split(text))
    if (_ALWAYS_ACUTE.search(plain) or _WEAPONS.search(plain) or _PRESENT_THREAT.search(plain)
            or mentions_any(plain, context_phrases) or _misspelt(plain, _MISSPELLABLE)):
        return True
    return bool(_NOW.search(plain) and (_VIOLENCE.search(plain) or _misspelt(plain, _MISSPELLABLE_VIOLENCE)))


#: Typed answers that put a follow-up off: "not yet" keeps it open, it is not "niet gedaan".
_LATER = ("later", "straks", "nog niet", "morgen", "vanmiddag", "vanavond", "nog mee bezig", "ben ermee bezig",
          "komt nog", "volgende keer", "doe ik nog", "moet nog")


def means_later(text: str) -> bool:
    """True for a typed "later" / "nog niet" / "straks" to a Ja / Nee / Later question."""
    return mentions_any(text, _LATER, whole_words=True)


_HOW_LONG = re.compile(r"\b(hoe ?lang (duurt|nog|gaat)|hoeveel (vragen|stappen)|nog (veel|lang|meer) vragen|"
                       r"(bijna|nog niet) klaar|hoe ver (ben|zijn)|duurt (dit|het) (nog )?lang)\b")


def asks_how_long(text: str) -> bool:
    """ "hoe lang duurt dit nog?", "hoeveel vragen nog?", "zijn we bijna klaar?" """
    return bool(_HOW_LONG.search(normalise_text(text)))


#: "Later verder" in a protocol: a pause, not a stop (a stop loses the answers given).
_PAUSE = ("later", "straks", "pauze", "even weg", "morgen", "volgende keer", "zo meteen", "ander moment")
#: Words that stop a protocol outright, whatever else the message says.
STOP_WORDS = r"stop\w*|ophouden|hou op|kappen|annuleer\w*"
_EXPLICIT_STOP = re.compile(rf"\b({STOP_WORDS}|afbreken|breek\w* af|cancel)\b")


def asks_to_pause(text: str) -> bool:
    """ "kan ik later verder?", "ik doe dit later wel": go on later, without a word that
    stops outright ("stop maar, ik doe het later" does stop)."""
    plain = normalise_text(text)
    return mentions_any(plain, _PAUSE, whole_words=True) and not _EXPLICIT_STOP.search(plain)


_DONE = ("gedaan", "gebeld", "gemeld", "geregeld", "klaar", "gebeurd", "gelukt", "afgerond", "besproken")


def confirms_done(text: str) -> bool:
    """True when a typed answer says a follow-up was done: a plain yes ("ja", "jazeker"),
    or "gedaan" / "gebeld" without a negation. What records ``gedaan`` must say so: the
    NLU takes "straks" for a yes."""
    if means_later(text) or is_unsure(text):
        return False
    answer = parse_yes_no(text)
    if answer is not None:
        return answer == "ja"
    return mentions_any(text, _DONE) and not _NEGATIONS & set(normalise_text(text).split())


def mentions_any(text: str, phrases: list[str] | tuple[str, ...], *, whole_words: bool = False) -> bool:
    """True when a phrase starts a word of ``text`` ("bedreig" in "werd bedreigd"),
    or with ``whole_words`` is one or more whole words of it ("zw" in "zw bewoonster",
    not in "zwart"); case and accents ignored."""
    plain = f" {normalise_text(text)} "
    end = " " if whole_words else ""
    return any(f" {phrase}{end}" in plain for phrase in (normalise_text(p) for p in phrases) if phrase)
