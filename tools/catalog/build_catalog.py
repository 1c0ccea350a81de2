"""Build the bundled catalog (tui/vramtui/core/catalog/catalog_data.json) from its inputs.

`models.json` holds the research: architecture facts and published GGUF sizes per model, each
with the keys of its sources. `extra.json` holds what the catalog adds: the readme, the source
sentences as the catalog words them, and one entry per catalog model whose values are either
the catalog's own (config values, names, notes) or references into the research:

- `{"research": "FIELD"}` is the value of FIELD (dotted for nested, e.g. `mla.q_lora_rank`) in
  the model's research entry (`research_id`); a reference to a missing or null fact is an error.
- a quant with `"research_row": SOURCE` takes size, unit, kind and source from the research row
  of that source whose quantization is the quant's name (exactly one row must match).
- a source sentence of null is the research's sentence as it stands.

`families/*.json` (one file per model family, read in name order after the two above) each hold
`{"sources": {KEY: sentence}, "research": [models.json entries], "catalog": [extra.json
entries]}`: a family's research, sources and catalog entries join the ones above, and a key or id
given twice is an error.

Run `python tools/catalog/build_catalog.py` (writes the catalog) or with `--check` (exit 1 when
the shipped file differs from what the inputs give).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
RESEARCH = HERE / "models.json"
EXTRA = HERE / "extra.json"
FAMILIES = HERE / "families"
TARGET = ROOT / "tui" / "vramtui" / "core" / "catalog" / "catalog_data.json"

# The research's size kinds, as the catalog words them.
KIND_WORDS = {"llama-bench size": "llama-bench size (tensor bytes)"}
QUANT_KEYS = ("name", "size", "unit", "kind", "source", "note")


class CatalogInputError(ValueError):
    """The inputs do not give a catalog: a reference to a missing fact, an unknown source."""


def _fact(research: dict[str, Any], field: str) -> Any:
    value: Any = research
    for part in field.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    if value is None:
        raise CatalogInputError(f"{research['id']}: no research fact {field!r}")
    return value


def _resolve(value: Any, research: dict[str, Any]) -> Any:
    if isinstance(value, dict):
        if set(value) == {"research"}:
            return _fact(research, value["research"])
        return {k: _resolve(v, research) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve(v, research) for v in value]
    return value


def _quant(quant: dict[str, Any], research: dict[str, Any]) -> dict[str, Any]:
    out = dict(quant)
    source = out.pop("research_row", None)
    if source is not None:
        rows = [
            row
            for row in research.get("gguf_sizes", [])
            if row.get("source") == source and row["quant"].split(" ")[0] == quant["name"]
        ]
        if len(rows) != 1:
            raise CatalogInputError(
                f"{research['id']}: {len(rows)} research rows for {quant['name']} from {source}"
            )
        row = rows[0]
        out.update(
            size=row["size"],
            unit=row["unit"],
            kind=KIND_WORDS.get(row["kind"], row["kind"]),
            source=source,
        )
    return {key: out[key] for key in QUANT_KEYS if key in out}


def _model(entry: dict[str, Any], research: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in entry.items():
        if key == "research_id":
            continue
        if key == "quants":
            out[key] = [_quant(q, research) for q in value]
        else:
            out[key] = _resolve(value, research)
    return out


def build(research_doc: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """The catalog as a JSON-ready dict, in the order it is written."""
    by_id = {m["id"]: m for m in research_doc["models"]}
    sources: dict[str, str] = {}
    for key, sentence in extra["sources"].items():
        if sentence is None and key not in research_doc["sources"]:
            raise CatalogInputError(f"source {key}: no sentence here or in the research")
        sources[key] = research_doc["sources"][key] if sentence is None else sentence
    models = []
    for entry in extra["models"]:
        model = _model(entry, by_id[entry["research_id"]])
        cited = list(model["sources"]) + [q["source"] for q in model["quants"] if "source" in q]
        unknown = sorted({key for key in cited if key not in sources})
        if unknown:
            raise CatalogInputError(f"{model['id']}: unknown sources {', '.join(unknown)}")
        models.append(model)
    return {"_readme": extra["_readme"], "sources": sources, "models": models}


def _join_family(
    research_doc: dict[str, Any], extra: dict[str, Any], family: dict[str, Any], name: str
) -> None:
    """Adds one family file's sources, research and catalog entries; a repeated key is an error."""
    for key, sentence in family.get("sources", {}).items():
        if key in research_doc["sources"] or key in extra["sources"]:
            raise CatalogInputError(f"{name}: source {key} is given twice")
        research_doc["sources"][key] = sentence
        extra["sources"][key] = None
    for kind, doc in (("research", research_doc), ("catalog", extra)):
        key = "id"
        known = {m[key] for m in doc["models"]}
        for entry in family.get(kind, []):
            if entry[key] in known:
                raise CatalogInputError(f"{name}: {kind} id {entry[key]} is given twice")
            known.add(entry[key])
            doc["models"].append(entry)


def render(
    research_path: Path = RESEARCH, extra_path: Path = EXTRA, families: Path = FAMILIES
) -> str:
    """The text of catalog_data.json the inputs give."""
    research_doc = json.loads(research_path.read_text(encoding="utf-8"))
    extra = json.loads(extra_path.read_text(encoding="utf-8"))
    for path in sorted(families.glob("*.json")) if families.is_dir() else []:
        family = json.loads(path.read_text(encoding="utf-8"))
        _join_family(research_doc, extra, family, path.name)
    return json.dumps(build(research_doc, extra), indent=1) + "\n"


def main(argv: list[str]) -> int:
    text = render()
    if "--check" in argv:
        same = TARGET.read_text(encoding="utf-8") == text
        print(f"{TARGET.relative_to(ROOT)}: {'up to date' if same else 'differs from its inputs'}")
        return 0 if same else 1
    TARGET.write_text(text, encoding="utf-8")
    print(f"wrote {TARGET.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
