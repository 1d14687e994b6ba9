"""The user's own concept folder: safe names, validation before writing, ids, atomic writes."""

from __future__ import annotations

import json
import os

import pytest
import yaml

from interp.concepts.files import (
    ConceptFileError,
    load_concept_file,
    parse_concept_bytes,
)
from interp.concepts.user_sets import (
    AUTHORED_FILE,
    TRASH,
    delete_user_set,
    list_other_files,
    list_other_sets,
    list_user_files,
    list_user_sets,
    load_user_set,
    restore_user_set,
    save_authored_sequence,
    save_upload,
    slug,
    user_key,
)
from interp.core.errors import InterpError

GOOD = b"""\
set: mine
sequences:
  - id: my-condition
    concept: Condition
    text: The tenant shall pay the rent unless the court orders otherwise.
    spans:
      - text: unless the court orders otherwise
        role: exception
"""
# Same id as GOOD, other text: what a user uploads when they correct their file.
GOOD_CORRECTED = GOOD.replace(b"pay the rent", b"pay the whole rent")
BAD = b"""\
set: broken
sequences:
  - id: bad-role
    concept: Role
    text: The lessee shall pay.
    spans:
      - text: magistrate
"""
CSV = (
    b"id,concept,text,span_text,occurrence,role\n"
    b"csv-role,Role,The lessor and the lessee agree; the lessee pays.,the lessee,2,payer\n"
    b"csv-role,Role,The lessor and the lessee agree; the lessee pays.,The lessor,,\n"
)
BUYER = {
    "id": "buyer-appeal", "concept": "Permissible Action", "source": "written in the app",
    "text": "The buyer may appeal the decision within thirty days; the buyer may also waive it.",
    "spans": [{"text": "may appeal the decision", "role": "permission"}, {"text": "buyer", "occurrence": 2}],
}


def files_in(folder):
    """Every entry of `folder`, hidden ones (temporary files) included, but the lock and the trash."""
    return sorted(p.name for p in folder.iterdir() if p.name not in (".lock", TRASH)) if folder.exists() else []


# ---------------------------------------------------------------- uploads

def test_upload_keeps_the_bytes_under_a_slugged_name_inside_the_folder(tmp_path):
    folder = tmp_path / "home" / "concepts"
    kept = save_upload("../../evil name.YAML", GOOD, folder)
    assert kept.file_name == "evil-name.yaml"
    assert files_in(folder) == ["evil-name.yaml"]
    assert (folder / "evil-name.yaml").read_bytes() == GOOD
    assert files_in(tmp_path) == ["home"] and files_in(tmp_path / "home") == ["concepts"]
    assert [s.id for s in kept.concept_set.sequences] == ["my-condition"]
    assert kept.concept_set.name == "mine"


@pytest.mark.parametrize(("name", "expected"), [
    ("My Set.yml", "my-set.yml"),
    ("/etc/passwd.json", "passwd.json"),
    ("Ünïcode &  spaces!.CSV", "n-code-spaces.csv"),
    ("???.yaml", "upload.yaml"),
])
def test_upload_names_are_slugs(tmp_path, name, expected):
    data = CSV if name.lower().endswith(".csv") else GOOD
    if name.endswith(".json"):
        data = json.dumps(yaml.safe_load(GOOD)).encode()
    assert save_upload(name, data, tmp_path).file_name == expected
    assert files_in(tmp_path) == [expected]


def test_slug_is_made_of_safe_characters_only():
    assert slug("../../Evil Name") == "evil-name"
    assert slug("") == "upload"
    assert slug("x" * 100) == "x" * 60


def test_invalid_upload_is_refused_with_one_line_per_problem_and_nothing_written(tmp_path):
    folder = tmp_path / "concepts"
    with pytest.raises(ConceptFileError) as caught:
        save_upload("broken.yaml", BAD, folder)
    assert caught.value.problems == [
        "broken.yaml: sequence 'bad-role', span 1, field 'text': 'magistrate' does not occur in the text"
    ]
    assert files_in(folder) == []


@pytest.mark.parametrize(("name", "data", "fragment"), [
    ("notes.txt", GOOD, "unknown format"),
    ("broken.yaml", b"set: [unclosed", "not valid YAML"),
    ("latin.yaml", "set: café".encode("latin-1"), "not UTF-8"),
    ("rows.csv", b"id,concept,text\nx,Role,The lessee.\n", "missing column(s) span_text"),
])
def test_every_refusal_is_one_line_naming_the_file(tmp_path, name, data, fragment):
    with pytest.raises(ConceptFileError) as caught:
        save_upload(name, data, tmp_path)
    assert caught.value.problems and all("\n" not in p and p.startswith(f"{name}: ") for p in caught.value.problems)
    assert fragment in caught.value.problems[0]
    assert files_in(tmp_path) == []


def test_upload_applies_the_limits_on_spans_and_text(tmp_path, monkeypatch):
    """The app's upload reads through the same loader: a sequence past a limit is refused in one
    line naming the file, the sequence and the field, and nothing is written."""
    monkeypatch.setenv("INTERP_MAX_TEXT_CHARS", "10")
    with pytest.raises(ConceptFileError) as caught:
        save_upload("long.yaml", GOOD, tmp_path)
    text = "The tenant shall pay the rent unless the court orders otherwise."
    assert caught.value.problems == [f"long.yaml: sequence 'my-condition', field 'text': {len(text)} characters; at most "
                                     "10 per text (INTERP_MAX_TEXT_CHARS sets the limit)"]
    assert files_in(tmp_path) == []


def test_upload_refuses_ids_of_other_sets(tmp_path):
    save_upload("first.yaml", GOOD, tmp_path)
    taken = {"my-condition", "definiendum"}  # what the app passes: every set's ids
    with pytest.raises(ConceptFileError) as caught:
        save_upload("second.yaml", GOOD, tmp_path, taken)
    assert caught.value.problems == [
        "second.yaml: sequence 'my-condition', field 'id': already used by another concept set; choose another id"
    ]
    assert files_in(tmp_path) == ["first.yaml"]


def test_upload_of_a_taken_name_with_other_content_is_a_new_version(tmp_path):
    first = save_upload("mine.yaml", GOOD, tmp_path)
    assert (first.file_name, first.outcome) == ("mine.yaml", "new")
    # The app's taken ids include the first version's ids; a corrected version reuses them.
    kept = save_upload("Mine.yaml", GOOD_CORRECTED, tmp_path, {"my-condition", "definiendum"})
    assert (kept.file_name, kept.outcome, kept.requested) == ("mine-2.yaml", "version", "mine.yaml")
    assert files_in(tmp_path) == ["mine-2.yaml", "mine.yaml"]
    assert (tmp_path / "mine.yaml").read_bytes() == GOOD, "the first upload is never overwritten"
    assert (tmp_path / "mine-2.yaml").read_bytes() == GOOD_CORRECTED
    assert "whole rent" in kept.concept_set.sequences[0].text
    third = save_upload("mine.yaml", GOOD.replace(b"the rent", b"all rent"), tmp_path)
    assert third.file_name == "mine-3.yaml"


def test_upload_of_the_same_bytes_again_changes_nothing(tmp_path):
    save_upload("mine.yaml", GOOD, tmp_path)
    save_upload("mine.yaml", GOOD_CORRECTED, tmp_path)
    for data, name in ((GOOD, "mine.yaml"), (GOOD_CORRECTED, "mine-2.yaml")):
        again = save_upload("MINE.yaml", data, tmp_path, {"my-condition"})
        assert (again.file_name, again.outcome) == (name, "unchanged")
    assert files_in(tmp_path) == ["mine-2.yaml", "mine.yaml"]


def test_two_sessions_uploading_one_name_at_once_both_keep_their_file(tmp_path):
    """Eight threads (sessions) upload `shared.yaml` at the same moment, each with its own text."""
    import threading

    contents = [GOOD.replace(b"pay the rent", f"pay rent number {n}".encode()) for n in range(8)]
    start, kept = threading.Barrier(len(contents)), {}

    def upload(data: bytes) -> None:
        start.wait(10)
        kept[data] = save_upload("shared.yaml", data, tmp_path).file_name

    threads = [threading.Thread(target=upload, args=(data,)) for data in contents]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(kept.values()) == sorted(["shared.yaml"] + [f"shared-{n}.yaml" for n in range(2, 9)])
    for data, name in kept.items():
        assert (tmp_path / name).read_bytes() == data, "each session's file holds its own sequences"
    assert files_in(tmp_path) == sorted(kept.values())


def test_csv_upload_is_kept_as_csv_and_parsed(tmp_path):
    kept = save_upload("Bulk Rows.csv", CSV, tmp_path)
    assert kept.file_name == "bulk-rows.csv"
    assert (tmp_path / "bulk-rows.csv").read_bytes() == CSV
    (sequence,) = kept.concept_set.sequences
    text = sequence.text
    assert [(s.start, s.role) for s in sequence.spans] == [(text.rindex("the lessee"), "payer"), (0, None)]


# ---------------------------------------------------------------- authored sequences

def test_authored_sequences_are_appended_and_round_trip(tmp_path):
    condition = {"id": "late-rent", "concept": "Condition", "text": "If the rent is late, the lessor may sue.",
                 "spans": [{"text": "If the rent is late"}]}
    save_authored_sequence(BUYER, tmp_path)
    kept = save_authored_sequence(condition, tmp_path)
    assert kept.file_name == AUTHORED_FILE == "authored.yaml"
    assert files_in(tmp_path) == ["authored.yaml"]
    loaded = load_concept_file(tmp_path / "authored.yaml")
    assert loaded.name == "authored"
    assert [s.id for s in loaded.sequences] == ["buyer-appeal", "late-rent"]
    assert loaded.sequences == kept.concept_set.sequences
    buyer = loaded.sequences[0]
    second = BUYER["text"].rindex("buyer")
    assert [(s.text, s.start, s.role) for s in buyer.spans] == [
        ("may appeal the decision", BUYER["text"].index("may appeal"), "permission"),
        ("buyer", second, None),
    ]
    # What the registry reads back is what the form described.
    assert buyer == parse_concept_bytes(yaml.safe_dump({"set": "x", "sequences": [BUYER]}).encode(), "x.yaml").sequences[0]


def test_authored_sequence_with_an_existing_id_replaces_it(tmp_path):
    save_authored_sequence(BUYER, tmp_path)
    changed = {**BUYER, "text": "The buyer may appeal the decision at once.", "spans": [{"text": "may appeal"}]}
    kept = save_authored_sequence(changed, tmp_path, taken_ids={"buyer-appeal"})
    loaded = load_concept_file(tmp_path / "authored.yaml")
    assert [s.id for s in loaded.sequences] == ["buyer-appeal"]
    assert loaded.sequences[0].text == "The buyer may appeal the decision at once."
    assert kept.concept_set.sequences == loaded.sequences


def test_authored_sequence_refuses_ids_of_other_sets_and_keeps_the_file(tmp_path):
    save_authored_sequence(BUYER, tmp_path)
    before = (tmp_path / "authored.yaml").read_bytes()
    with pytest.raises(ConceptFileError) as caught:
        save_authored_sequence({**BUYER, "id": "definiendum"}, tmp_path, taken_ids={"definiendum"})
    assert "field 'id': already used by another concept set" in caught.value.problems[0]
    assert (tmp_path / "authored.yaml").read_bytes() == before


def test_invalid_authored_sequence_writes_nothing(tmp_path):
    with pytest.raises(ConceptFileError) as caught:
        save_authored_sequence({**BUYER, "spans": [{"text": "the magistrate"}]}, tmp_path)
    (problem,) = caught.value.problems
    assert "sequence 'buyer-appeal', span 1, field 'text': 'the magistrate' does not occur in the text" in problem
    assert files_in(tmp_path) == []


# ---------------------------------------------------------------- listing and deleting

def test_list_reports_files_that_no_longer_validate(tmp_path):
    save_upload("good.yaml", GOOD, tmp_path)
    save_upload("rows.csv", CSV, tmp_path)
    (tmp_path / "edited.yaml").write_bytes(BAD)  # edited by hand after it was kept
    (tmp_path / "notes.txt").write_text("not a concept file")
    sets, problems = list_user_sets(tmp_path)
    assert [s.file_name for s in sets] == ["good.yaml", "rows.csv"]
    assert [s.concept_set.sequences[0].id for s in sets] == ["my-condition", "csv-role"]
    assert problems == ["edited.yaml: sequence 'bad-role', span 1, field 'text': 'magistrate' does not occur in the text"]


def test_list_of_a_missing_folder_is_empty(tmp_path):
    assert list_user_sets(tmp_path / "absent") == ([], [])


@pytest.mark.parametrize("name", ["../outside.yaml", "absent.yaml", "", ".", "sub/inner.yaml"])
def test_delete_refuses_names_that_are_not_files_of_the_folder(tmp_path, name):
    folder = tmp_path / "concepts"
    save_upload("kept.yaml", GOOD, folder)
    (tmp_path / "outside.yaml").write_bytes(GOOD)
    (folder / "sub").mkdir()
    (folder / "sub" / "inner.yaml").write_bytes(GOOD)
    with pytest.raises(InterpError, match="is not one of your concept files"):
        delete_user_set(name, folder)
    assert (tmp_path / "outside.yaml").is_file() and (folder / "sub" / "inner.yaml").is_file()
    assert (folder / "kept.yaml").read_bytes() == GOOD


def test_delete_moves_the_named_file_to_the_trash_and_undo_brings_it_back(tmp_path):
    save_upload("one.yaml", GOOD, tmp_path)
    save_upload("two.csv", CSV, tmp_path)
    trashed = delete_user_set("one.yaml", tmp_path)
    assert files_in(tmp_path) == ["two.csv"]
    assert [s.file_name for s in list_user_sets(tmp_path)[0]] == ["two.csv"]
    assert (tmp_path / TRASH / trashed).read_bytes() == GOOD
    with pytest.raises(InterpError, match="is not one of your concept files"):
        delete_user_set("one.yaml", tmp_path)
    assert restore_user_set(trashed, tmp_path) == "one.yaml"
    assert (tmp_path / "one.yaml").read_bytes() == GOOD and not (tmp_path / TRASH / trashed).exists()
    with pytest.raises(InterpError, match="is not in the trash"):
        restore_user_set(trashed, tmp_path)


def test_undo_after_the_name_was_taken_again_restores_as_a_version(tmp_path):
    save_upload("one.yaml", GOOD, tmp_path)
    trashed = delete_user_set("one.yaml", tmp_path)
    save_upload("one.yaml", GOOD_CORRECTED, tmp_path)
    assert restore_user_set(trashed, tmp_path) == "one-2.yaml"
    assert (tmp_path / "one.yaml").read_bytes() == GOOD_CORRECTED
    assert (tmp_path / "one-2.yaml").read_bytes() == GOOD


@pytest.mark.parametrize("name", ["../x", "..", "", "nothing-here.yaml", "sub/1-one.yaml"])
def test_restore_takes_only_names_in_the_trash(tmp_path, name):
    save_upload("one.yaml", GOOD, tmp_path)
    delete_user_set("one.yaml", tmp_path)
    with pytest.raises(InterpError, match="is not in the trash"):
        restore_user_set(name, tmp_path)


def test_trash_older_than_its_limit_is_emptied_on_the_next_delete(tmp_path):
    save_upload("one.yaml", GOOD, tmp_path)
    save_upload("two.csv", CSV, tmp_path)
    old = delete_user_set("one.yaml", tmp_path)
    stale = f"{int(old.partition('-')[0]) - 31 * 86400 * 10**9}-one.yaml"
    (tmp_path / TRASH / old).rename(tmp_path / TRASH / stale)
    recent = delete_user_set("two.csv", tmp_path)
    assert sorted(p.name for p in (tmp_path / TRASH).iterdir()) == [recent]


# ---------------------------------------------------------------- signed-in users

def test_user_key_is_a_hash_of_issuer_and_subject():
    alice = {"iss": "https://accounts.example", "sub": "1001", "email": "alice@example.org", "name": "Alice"}
    key = user_key(alice)
    assert len(key) == 16 and set(key) <= set("0123456789abcdef")
    assert user_key({**alice, "name": "Alice B."}) == key, "the name is not the identity"
    assert user_key({**alice, "sub": "1002"}) != key
    assert user_key({**alice, "iss": "https://other.example"}) != key
    assert user_key({"email": "bob@example.org"}) != key
    assert "alice" not in key
    with pytest.raises(InterpError, match="neither 'sub' nor 'email'"):
        user_key({"name": "Nobody"})


def test_other_users_sets_are_listed_with_their_owner(tmp_path):
    root = tmp_path / "concepts"
    alice, bob = root / "users" / ("a" * 16), root / "users" / ("b" * 16)
    save_upload("alice.yaml", GOOD, alice)
    save_upload("bob.csv", CSV, bob)
    save_upload("before-sign-in.yaml", GOOD_CORRECTED, root)
    (bob / "broken.yaml").write_bytes(BAD)
    seen_by_alice = [(owner, s.file_name) for owner, s in list_other_sets(root, alice)]
    assert seen_by_alice == [("shared", "before-sign-in.yaml"), ("bbbbbbbb", "bob.csv")]
    assert [(owner, s.file_name) for owner, s in list_other_sets(root, bob)] == [
        ("shared", "before-sign-in.yaml"), ("aaaaaaaa", "alice.yaml")]


# ---------------------------------------------------------------- reading sets once

@pytest.fixture()
def parsed(monkeypatch) -> list[str]:
    """The names of the files parsed while the test runs."""
    import interp.concepts.user_sets

    names, original = [], interp.concepts.user_sets.parse_concept_bytes

    def counting(data, name, suffix=None):
        names.append(name)
        return original(data, name, suffix)

    monkeypatch.setattr(interp.concepts.user_sets, "parse_concept_bytes", counting)
    return names


def test_listing_files_reads_none_of_them(tmp_path, parsed):
    root = tmp_path / "concepts"
    (root / "users" / ("a" * 16)).mkdir(parents=True)
    (root / "mine.yaml").write_bytes(GOOD)
    (root / "broken.yaml").write_bytes(BAD)
    (root / "users" / ("a" * 16) / "alice.csv").write_bytes(CSV)
    (root / ".hidden.yaml").write_bytes(GOOD)
    assert [p.name for p in list_user_files(root)] == ["broken.yaml", "mine.yaml"]
    assert [(owner, p.name) for owner, p in list_other_files(root, tmp_path / "someone")] == [
        ("shared", "broken.yaml"), ("shared", "mine.yaml"), ("aaaaaaaa", "alice.csv")]
    assert parsed == []


def test_a_file_is_parsed_once_per_version(tmp_path, parsed):
    path = tmp_path / "mine.yaml"
    path.write_bytes(GOOD)
    first = load_user_set(path)
    assert load_user_set(path) is first and [s.id for s in first.sequences] == ["my-condition"]
    assert parsed == ["mine.yaml"]
    os.replace(tmp_path / "mine.yaml", tmp_path / "old.yaml")
    (tmp_path / "mine.yaml").write_bytes(GOOD_CORRECTED)  # a new version, as an atomic write makes it
    assert load_user_set(path).sequences[0].text.endswith("pay the whole rent unless the court orders otherwise.")
    assert parsed == ["mine.yaml", "mine.yaml"]
    # A file that does not validate is remembered as such: its problems come back without a parse.
    (tmp_path / "broken.yaml").write_bytes(BAD)
    for _ in range(2):
        with pytest.raises(ConceptFileError, match="'magistrate' does not occur in the text"):
            load_user_set(tmp_path / "broken.yaml")
    assert parsed == ["mine.yaml", "mine.yaml", "broken.yaml"]
    with pytest.raises(ConceptFileError, match="gone.yaml: no such file"):
        load_user_set(tmp_path / "gone.yaml")


@pytest.mark.parametrize(("name", "data"), [
    ("My Set.yaml", GOOD), ("Rows.csv", CSV),
    ("Lines.jsonl", (json.dumps({"id": "line-1", "concept": "Condition", "text": "Pay unless told.",
                                 "spans": [{"text": "unless told"}]}) + "\n").encode()),
])
def test_an_upload_is_parsed_once_and_read_back_as_its_kept_file(tmp_path, parsed, name, data):
    kept = save_upload(name, data, tmp_path)
    assert load_user_set(tmp_path / kept.file_name) == kept.concept_set
    assert parsed == [name]
    assert kept.concept_set == parse_concept_bytes((tmp_path / kept.file_name).read_bytes(), kept.file_name)


# ---------------------------------------------------------------- atomic writes

def test_writes_leave_no_temporary_files(tmp_path):
    for _ in range(3):
        save_upload("mine.yaml", GOOD, tmp_path)
    save_upload("rows.csv", CSV, tmp_path)
    save_authored_sequence(BUYER, tmp_path)
    assert files_in(tmp_path) == ["authored.yaml", "mine.yaml", "rows.csv"]


def test_an_interrupted_write_keeps_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    save_upload("mine.yaml", GOOD, tmp_path)

    def fail(source, target):
        raise OSError("disk full")

    monkeypatch.setattr(os, "link", fail)
    with pytest.raises(OSError, match="disk full"):
        save_upload("mine.yaml", GOOD_CORRECTED, tmp_path)
    assert files_in(tmp_path) == ["mine.yaml"]
    assert (tmp_path / "mine.yaml").read_bytes() == GOOD


def test_two_sessions_authoring_at_once_both_keep_their_sequence(tmp_path):
    import threading

    items = [{**BUYER, "id": f"buyer-{n}"} for n in range(6)]
    start = threading.Barrier(len(items))

    def author(item):
        start.wait(10)
        save_authored_sequence(item, tmp_path)

    threads = [threading.Thread(target=author, args=(item,)) for item in items]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(s.id for s in load_concept_file(tmp_path / "authored.yaml").sequences) == [f"buyer-{n}" for n in range(6)]


def test_the_concepts_folder_lock_never_follows_a_symbolic_link(tmp_path):
    precious = tmp_path / "precious.txt"
    precious.write_text("precious\n")
    folder = tmp_path / "concepts"
    folder.mkdir()
    (folder / ".lock").symlink_to(precious)
    with pytest.raises(InterpError, match=r"concepts/\.lock: a symbolic link, not a lock file of this tool"):
        save_authored_sequence(BUYER, folder)
    assert precious.read_text() == "precious\n" and not (folder / "authored.yaml").exists()
