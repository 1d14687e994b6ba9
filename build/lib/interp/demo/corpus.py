"""Seeded text generators for the demo lineage: everyday English, statute-style law, instructions.

Grammars and templates over the word lists in `interp.demo.words`; every Act, section and person
is fictional. Each generator takes its own `random.Random(seed)`, so the same `(n, seed)` gives
the same texts in every process and nothing touches global random state.
"""

from __future__ import annotations

import random

from interp.demo import words as w


def general_texts(n: int, seed: int) -> list[str]:
    """`n` short everyday paragraphs (weather, cooking, travel, science, sport, family, ...)."""
    rng = random.Random(seed)
    return [_paragraph(rng) for _ in range(n)]


def legal_texts(n: int, seed: int) -> list[str]:
    """`n` statute-style provisions and fact descriptions of fictional Acts."""
    rng = random.Random(seed)
    return [_fact_description(rng) if rng.random() < 0.15 else _provision(rng) for _ in range(n)]


def instruction_pairs(n: int, seed: int) -> list[tuple[str, str]]:
    """`n` (instruction, response) pairs asking about a statute-style text.

    The answers are copied from the clause they ask about (the condition, the duty holder, the
    permitted act, the defined term's meaning, ...), so instruction tuning rewards attending to
    the tokens that carry the concept.
    """
    rng = random.Random(seed)
    return [rng.choice(_TASKS)(rng) for _ in range(n)]


# ---------------------------------------------------------------- everyday English

def _paragraph(rng: random.Random) -> str:
    topic = rng.choice(_TOPICS)
    sentences = [topic(rng) for _ in range(rng.randint(2, 5))]
    if rng.random() < 0.3:
        sentences.append(rng.choice(_TOPICS)(rng))
    return " ".join(sentences)


def _person(rng: random.Random) -> str:
    return rng.choice(w.FIRST_NAMES)


def _weather(rng: random.Random) -> str:
    c = rng.choice
    return c((
        lambda: f"It was {c(w.WEATHER_ADJECTIVES)} in {c(w.TOWNS)} on {c(w.DAYS)}.",
        lambda: f"The forecast says there will be {c(w.WEATHER_NOUNS)} {c(w.TIMES)}.",
        lambda: f"{_person(rng)} took {c(w.TRAVEL_THINGS)} because the sky looked {c(w.WEATHER_ADJECTIVES)}.",
        lambda: f"In {c(w.MONTHS)} the weather is often {c(w.WEATHER_ADJECTIVES)} and {c(w.WEATHER_ADJECTIVES)}.",
        lambda: f"Heavy {c(w.WEATHER_NOUNS)} closed the road to {c(w.TOWNS)} for a few hours.",
        lambda: f"After the {c(w.WEATHER_NOUNS)}, the streets were {c(w.WEATHER_ADJECTIVES)} and quiet.",
        lambda: f"The temperature fell to {rng.randint(-5, 12)} degrees {c(w.TIMES)}.",
        lambda: f"Nobody expected {c(w.WEATHER_NOUNS)} in {c(w.MONTHS)}, but it came anyway.",
    ))()


def _cooking(rng: random.Random) -> str:
    c = rng.choice
    return c((
        lambda: f"{_person(rng)} made {c(w.DISHES)} for the {c(w.FAMILY)}.",
        lambda: f"First {c(w.COOK_VERBS)} the {c(w.FOODS)}, then {c(w.COOK_VERBS)} them in a {c(w.KITCHEN)}.",
        lambda: f"You will need {c(w.FOODS)}, {c(w.FOODS)} and a little {c(w.FOODS)}.",
        lambda: f"{_cap(c(w.COOK_VERBS))} the mixture for {rng.randint(2, 40)} minutes and keep stirring.",
        lambda: f"The {c(w.JOBS)} said that {c(w.DISHES)} tastes better with {c(w.FOODS)}.",
        lambda: f"We bought {c(w.FOODS)} and {c(w.FOODS)} at {c(w.PLACES)}.",
        lambda: f"Put the {c(w.KITCHEN)} in the {c(w.KITCHEN)} and leave it to cool.",
        lambda: f"For breakfast {_person(rng)} likes {c(w.FOODS)} with {c(w.FOODS)}.",
    ))()


def _travel(rng: random.Random) -> str:
    c = rng.choice
    return c((
        lambda: f"{_person(rng)} took {c(w.TRANSPORT)} from {c(w.TOWNS)} to {c(w.TOWNS)}.",
        lambda: f"The journey to {c(w.TOWNS)} takes about {rng.randint(2, 9)} hours by {c(w.VEHICLES)}.",
        lambda: f"Don't forget {c(w.TRAVEL_THINGS)} and {c(w.TRAVEL_THINGS)} when you travel.",
        lambda: f"We stayed near {c(w.PLACES)} and walked to {c(w.PLACES)} every day.",
        lambda: f"{_cap(c(w.TRANSPORT))} was {c(w.ADJECTIVES)}, so we arrived {c(w.TIMES)}.",
        lambda: f"In {c(w.TOWNS)} there is {c(w.ADJECTIVES)} {c(w.OBJECTS)} shop next to {c(w.PLACES)}.",
        lambda: f"{_person(rng)} lost {c(w.TRAVEL_THINGS)} at {c(w.PLACES)} but found it again.",
    ))()


def _science(rng: random.Random) -> str:
    c = rng.choice
    return c((
        lambda: c(w.SCIENCE_FACTS),
        lambda: c(w.SCIENCE_FACTS),
        lambda: f"{_person(rng)} read about {c(w.SCIENCE_TOPICS)} and learned that {_lower_first(c(w.SCIENCE_FACTS))}",
        lambda: f"Scientists study {c(w.SCIENCE_TOPICS)} to understand how the world works.",
        lambda: f"The {c(w.ANIMALS)} {c(w.ANIMAL_VERBS)} {c(w.TIMES)}.",
        lambda: f"A {c(w.ADJECTIVES)} {c(w.ANIMALS)} lives near {c(w.PLACES)}.",
        lambda: f"In {c(w.SCHOOL_SUBJECTS)} class we learned about {c(w.SCIENCE_TOPICS)}.",
    ))()


def _sport(rng: random.Random) -> str:
    c = rng.choice
    return c((
        lambda: f"{_cap(c(w.TEAMS))} {c(w.SPORT_VERBS)} against {c(w.TEAMS)} on {c(w.DAYS)}.",
        lambda: f"{_person(rng)} plays {c(w.SPORTS)} {c(w.TIMES)}.",
        lambda: f"The final score was {rng.randint(0, 6)} to {rng.randint(0, 6)}.",
        lambda: f"Our {c(w.FAMILY)} has played {c(w.SPORTS)} for {c(w.NUMBER_WORDS)} years.",
        lambda: f"The {c(w.SPORTS)} match was {c(w.ADJECTIVES)} because of the {c(w.WEATHER_NOUNS)}.",
        lambda: f"The coach told the team to practise {c(w.SPORTS)} at {c(w.PLACES)}.",
    ))()


def _family(rng: random.Random) -> str:
    c = rng.choice
    return c((
        lambda: f"My {c(w.FAMILY)} is a {c(w.JOBS)} in {c(w.TOWNS)}.",
        lambda: f"{_person(rng)} visited the {c(w.FAMILY)} {c(w.TIMES)}.",
        lambda: f"Our {c(w.FAMILY)} enjoys {c(w.HOBBIES)} and {c(w.HOBBIES)}.",
        lambda: f"{_person(rng)} and {_person(rng)} felt {c(w.FEELINGS)} after the long day.",
        lambda: f"The {c(w.FAMILY)} gave {_person(rng)} a {c(w.COLOURS)} {c(w.OBJECTS)} for a birthday present.",
        lambda: f"{c(w.CONNECTIVES)}, the whole family went to {c(w.PLACES)}.",
    ))()


def _daily(rng: random.Random) -> str:
    c = rng.choice
    return c((
        lambda: f"{_person(rng)} {c(w.VERBS_PAST)} the {c(w.ADJECTIVES)} {c(w.OBJECTS)} {c(w.TIMES)}.",
        lambda: f"Could you {c(w.VERBS_BASE)} the {c(w.OBJECTS)} before {c(w.DAYS)}?",
        lambda: f"The {c(w.COLOURS)} {c(w.OBJECTS)} is on the {c(w.OBJECTS)} by the {c(w.OBJECTS)}.",
        lambda: f"{c(w.CONNECTIVES)}, {_person(rng)} {c(w.VERBS_PAST)} a {c(w.OBJECTS)} at {c(w.PLACES)}.",
        lambda: f"The {c(w.JOBS)} {c(w.VERBS_PAST)} the {c(w.OBJECTS)} and went home {c(w.FEELINGS)}.",
        lambda: f"{_person(rng)} works as a {c(w.JOBS)} and likes {c(w.HOBBIES)}.",
        lambda: f"There are {c(w.NUMBER_WORDS)} {c(w.OBJECTS)}s in the {c(w.ADJECTIVES)} box.",
    ))()


_TOPICS = (_weather, _cooking, _travel, _science, _sport, _family, _daily)


def _lower_first(text: str) -> str:
    return text[0].lower() + text[1:]


# ---------------------------------------------------------------- statute-style English

def _cap(text: str) -> str:
    return text[0].upper() + text[1:]


def _act(rng: random.Random) -> str:
    return f"{rng.choice(w.ACT_SUBJECTS)} {rng.choice(w.ACT_KINDS)} {rng.randint(1950, 2024)}"


def _section_ref(rng: random.Random) -> str:
    base = f"section {rng.randint(2, 60)}"
    if rng.random() < 0.6:
        base += f"({rng.randint(1, 6)})"
    if rng.random() < 0.3:
        base += f"({'abcdef'[rng.randint(0, 5)]})"
    return base


def _heading(rng: random.Random) -> str:
    number, title = rng.randint(1, 99), rng.choice(w.PART_TITLES)
    return rng.choice((
        f"Section {number} — {title}.",
        f"§ {number}. {title}.",
        f"{number}. {title}.",
        f"{_act(rng)}, section {number}. {title}.",
        f"Article {number} ({title}).",
    ))


def _date(rng: random.Random) -> str:
    return f"{rng.randint(1, 28)} {rng.choice(w.MONTHS)} {rng.randint(2001, 2024)}"


def _clause(rng: random.Random, kind: str) -> tuple[str, dict[str, str]]:
    """One sentence of a provision and the parts it was built from (for the instructions)."""
    role, condition = rng.choice(w.ROLES), rng.choice(w.CONDITIONS)
    parts = {"kind": kind, "role": role, "condition": condition}
    if kind == "definition":
        term = rng.choice(w.DEFINED_TERMS)
        meaning = rng.choice(w.DEFINITION_FORMS).format(
            ref=_section_ref(rng), activity=rng.choice(w.DEFINITION_ACTIVITIES)
        )
        where = rng.choice(("this Act", "this Part", "this section", "these Regulations"))
        parts.update(term=term, meaning=meaning)
        return f"In {where}, “{term}” means {meaning}.", parts
    if kind == "evidence":
        evidence = rng.choice(w.EVIDENCE_OBJECTS)
        matter = rng.choice(w.SUBJECT_MATTERS)
        parts.update(evidence=evidence, action=f"prove the grant of {matter}")
        return rng.choice((
            f"In proceedings under this Act, {evidence} is evidence of the facts stated in it.",
            f"{_cap(role)} shall produce {evidence} {condition}.",
            f"The grant of {matter} may be proved by {evidence}.",
        )), parts
    action = rng.choice({"permission": w.PERMITTED_ACTIONS, "prohibition": w.PROHIBITED_ACTIONS,
                         "duty": w.DUTIES}[kind])
    modal = {"permission": "may", "prohibition": "shall not", "duty": "shall"}[kind]
    parts["action"] = action
    ref = _section_ref(rng)
    return rng.choice((
        f"{_cap(condition)}, {role} {modal} {action}.",
        f"{_cap(role)} {modal} {action} {condition}.",
        f"Subject to subsection ({rng.randint(2, 5)}), {role} {modal} {action} {condition}.",
        f"{_cap(condition)}, {role} {modal}, in accordance with {ref}, {action}.",
    )), parts


_KINDS = ("definition", "permission", "prohibition", "duty", "evidence")


def _provision(rng: random.Random) -> str:
    clauses = [_clause(rng, rng.choice(_KINDS))[0] for _ in range(rng.randint(2, 4))]
    if rng.random() < 0.3:
        role = rng.choice(w.ROLES)
        clauses.append(f"{_cap(role)} who contravenes subsection (1) {rng.choice(w.OFFENCE_PENALTIES)}.")
    if rng.random() < 0.2:
        items = rng.sample(w.EVIDENCE_OBJECTS, 3)
        clauses.append(f"An application shall be accompanied by (a) {items[0]}; (b) {items[1]}; and (c) {items[2]}.")
    body = " ".join(f"({i}) {text}" for i, text in enumerate(clauses, 1))
    return f"{_heading(rng)} {body}"


def _fact_description(rng: random.Random) -> str:
    return _facts(rng)[0]


def _facts(rng: random.Random) -> tuple[str, dict[str, str]]:
    person, date, street = rng.choice(w.FACT_PERSONS), _date(rng), rng.choice(w.STREETS)
    event = rng.choice(w.FACT_EVENTS).format(
        matter=rng.choice(w.SUBJECT_MATTERS), street=street, count=rng.choice(w.NUMBER_WORDS)
    )
    outcome = rng.choice(w.FACT_OUTCOMES).format(date=_date(rng))
    text = f"On {date}, {person} {event}. {outcome}. {person} relies on {rng.choice(w.EVIDENCE_OBJECTS)}."
    return text, {"person": person, "date": date, "event": event}


# ---------------------------------------------------------------- instructions

def _ask_condition(rng: random.Random) -> tuple[str, str]:
    text, parts = _clause(rng, rng.choice(("permission", "prohibition", "duty")))
    ask = rng.choice(("Identify the condition in: {}", "Under what condition does this rule apply? {}",
                      "Quote the condition in the following provision. {}"))
    return ask.format(text), _cap(parts["condition"]) + "."


def _ask_role(rng: random.Random) -> tuple[str, str]:
    text, parts = _clause(rng, rng.choice(("duty", "prohibition")))
    ask = rng.choice(("Who holds the duty in: {}", "Who is bound by this rule? {}",
                      "Name the person on whom the provision imposes an obligation. {}"))
    return ask.format(text), _cap(parts["role"]) + "."


def _ask_permission(rng: random.Random) -> tuple[str, str]:
    text, parts = _clause(rng, "permission")
    ask = rng.choice(("What is permitted by: {}", "What may be done under this provision? {}",
                      "State the permitted action in: {}"))
    return ask.format(text), f"{_cap(parts['role'])} may {parts['action']}."


def _ask_prohibition(rng: random.Random) -> tuple[str, str]:
    text, parts = _clause(rng, "prohibition")
    ask = rng.choice(("What is prohibited by: {}", "What must not be done under this provision? {}",
                      "State the prohibited action in: {}"))
    return ask.format(text), f"{_cap(parts['role'])} shall not {parts['action']}."


def _ask_definition(rng: random.Random) -> tuple[str, str]:
    text, parts = _clause(rng, "definition")
    ask = rng.choice(("What does “{term}” mean in: {text}", "Define “{term}” according to: {text}",
                      "Which term is defined in the following text, and how? {text}"))
    return ask.format(term=parts["term"], text=text), f"“{parts['term']}” means {parts['meaning']}."


def _ask_evidence(rng: random.Random) -> tuple[str, str]:
    text, parts = _clause(rng, "evidence")
    ask = rng.choice(("What document serves as evidence in: {}", "Identify the evidence object in: {}",
                      "Which document does this provision rely on? {}"))
    return ask.format(text), _cap(parts["evidence"]) + "."


def _ask_kind(rng: random.Random) -> tuple[str, str]:
    kind = rng.choice(("permission", "prohibition", "duty"))
    text, _ = _clause(rng, kind)
    ask = rng.choice(("Is this a permission, a prohibition or a duty? {}",
                      "Classify the following provision as a permission, a prohibition or a duty. {}"))
    return ask.format(text), f"A {kind}."


def _ask_summary(rng: random.Random) -> tuple[str, str]:
    first, a = _clause(rng, rng.choice(("permission", "duty")))
    second, b = _clause(rng, "prohibition")
    modal = "may" if a["kind"] == "permission" else "must"
    answer = (f"{_cap(a['role'])} {modal} {a['action']} {a['condition']}, and "
              f"{b['role']} must not {b['action']} {b['condition']}.")
    ask = rng.choice(("Summarise: {}", "Summarise the following provision in one sentence. {}",
                      "Give a short summary of: {}"))
    return ask.format(f"{_heading(rng)} (1) {first} (2) {second}"), answer


def _ask_facts(rng: random.Random) -> tuple[str, str]:
    text, parts = _facts(rng)
    ask = rng.choice(("List the facts in: {}", "Who did what, and when? {}", "Extract the fact elements from: {}"))
    return ask.format(text), f"Who: {parts['person']}. When: {parts['date']}. What: {parts['event']}."


_TASKS = (_ask_condition, _ask_role, _ask_permission, _ask_prohibition, _ask_definition,
          _ask_evidence, _ask_kind, _ask_summary, _ask_facts)
