"""`concepts validate | show | generate`: concept files checked, shown as tokens, generated."""

from __future__ import annotations

import argparse

from interp.core.errors import InterpError


def add_commands(commands) -> None:
    concepts = commands.add_parser("concepts", help="check and inspect concept files")
    actions = concepts.add_subparsers(required=True, metavar="ACTION")
    validate = actions.add_parser("validate", help="check concept files; exit 2 with one line per problem")
    validate.add_argument("paths", nargs="+", metavar="PATH", help="concept files or folders")
    validate.set_defaults(command=run_concepts_validate)
    show = actions.add_parser("show", help="tokens of each sequence with concept tokens marked [like this]")
    show.add_argument("paths", nargs="+", metavar="PATH")
    show.add_argument("--tokenizer", required=True, metavar="ID_OR_DIR",
                      help="a local folder, a name `fetch` knows (its folder), or a hub id (from the local cache alone "
                           "where the hub cannot be reached)")
    show.set_defaults(command=run_concepts_show)
    generate = actions.add_parser("generate", help="a labelled dataset of the seven concept types from the demo's legal grammar")
    generate.add_argument("--per-type", type=int, default=200, metavar="N",
                          help="sequences per concept type (default 200; at most 8,000: more would not fit what "
                               "`concepts validate` reads)")
    generate.add_argument("--seed", type=int, default=0, help="the same seed gives the same dataset (default 0)")
    generate.add_argument("--out", required=True, metavar="FILE.jsonl", help="JSON Lines, one sequence per line")
    generate.set_defaults(command=run_concepts_generate)


def run_concepts_validate(args: argparse.Namespace) -> int:
    from interp.concepts.files import load_concepts
    from interp.core.safe_output import strip_controls

    sets = load_concepts(args.paths)
    for concept_set in sets:
        normalised = sum(s.normalised for s in concept_set.sequences)
        note = f" ({normalised} normalised to Unicode NFC)" if normalised else ""
        print(strip_controls(f"{concept_set.origin}: ok, set '{concept_set.name}', "
                             f"{len(concept_set.sequences)} sequence(s){note}"))
    return 0


def run_concepts_show(args: argparse.Namespace) -> int:
    from interp.concepts.alignment import align_sequence, format_marked_tokens
    from interp.concepts.files import all_sequences, load_concepts
    from interp.concepts.token_text import readable_tokens
    from interp.core.safe_output import strip_controls
    from interp.models.tokenizers import load_tokenizer

    sequences = all_sequences(load_concepts(args.paths))
    tokenizer = load_tokenizer(args.tokenizer)
    lines = []
    for sequence in sequences:
        aligned = align_sequence(sequence, tokenizer)
        lines.append(f"{sequence.id} ({sequence.concept}): {aligned.n_tokens} tokens, "
                     f"{int(aligned.concept_mask.sum())} concept tokens")
        lines.append("  " + format_marked_tokens(aligned.tokens, aligned.concept_mask))
        for number, (span, indices) in enumerate(zip(sequence.spans, aligned.span_tokens), start=1):
            role = f" [{span.role}]" if span.role else ""
            lines.append(f"  span {number}{role} {span.text!r}: tokens {', '.join(map(str, indices))}")
        shown = readable_tokens(aligned.tokens)
        for index in aligned.straddling:
            lines.append(f"  note: token {index} '{shown[index]}' reaches outside its span")
    print("\n".join(map(strip_controls, lines)))
    return 0


def run_concepts_generate(args: argparse.Namespace) -> int:
    from interp.concepts.files import MAX_DATASET_BYTES, write_concept_lines
    from interp.core.atomic import check_output_file
    from interp.demo.dataset import (
        CONCEPT_TYPES,
        MAX_PER_TYPE,
        generate_concept_sequences,
    )

    if not args.out.endswith(".jsonl"):
        raise InterpError(f"--out {args.out}: the dataset is JSON Lines; name it *.jsonl")
    check_output_file(args.out)
    if args.per_type < 1:
        raise InterpError(f"--per-type {args.per_type}: give at least one sequence per concept type")
    if args.per_type > MAX_PER_TYPE:
        raise InterpError(f"--per-type {args.per_type}: give at most {MAX_PER_TYPE:,} sequences per concept type; "
                          f"{len(CONCEPT_TYPES)} × {MAX_PER_TYPE:,} fill the {MAX_DATASET_BYTES // 2**20} MB that "
                          "`concepts validate` reads from a JSON Lines file")
    sequences = generate_concept_sequences(args.per_type, args.seed)
    path = write_concept_lines(sequences, args.out)
    print(f"{path}: {len(sequences)} sequences, {args.per_type} of each of 7 concept types (seed {args.seed})")
    return 0
