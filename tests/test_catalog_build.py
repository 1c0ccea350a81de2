"""The bundled catalog is what its generator makes of its inputs (tools/catalog): the shipped
catalog_data.json byte for byte, and a reference to a fact the research lacks is refused."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent
GENERATOR = ROOT / "tools" / "catalog" / "build_catalog.py"
SHIPPED = ROOT / "tui" / "vramtui" / "core" / "catalog" / "catalog_data.json"


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("build_catalog", GENERATOR)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_generator_reproduces_the_shipped_catalog() -> None:
    assert _generator().render() == SHIPPED.read_text(encoding="utf-8")


def test_the_generator_runs_as_a_script_and_checks_the_shipped_file() -> None:
    run = subprocess.run(
        [sys.executable, str(GENERATOR), "--check"], capture_output=True, text=True, check=False
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "up to date" in run.stdout


def test_the_catalog_reads_its_values_from_the_research() -> None:
    """A research fact changed is a catalog value changed: the references are followed."""
    gen = _generator()
    research = json.loads(gen.RESEARCH.read_text(encoding="utf-8"))
    extra = json.loads(gen.EXTRA.read_text(encoding="utf-8"))
    glm = next(m for m in research["models"] if m["id"] == "GLM-4.7-Flash")
    glm["n_layer"] = 48
    model = gen.build(research, extra)["models"][0]
    assert model["id"] == "glm-4.7-flash"
    assert model["metadata"]["deepseek2.block_count"] == 48


def test_a_reference_to_a_missing_fact_is_refused() -> None:
    gen = _generator()
    research = json.loads(gen.RESEARCH.read_text(encoding="utf-8"))
    extra = json.loads(gen.EXTRA.read_text(encoding="utf-8"))
    next(m for m in research["models"] if m["id"] == "GLM-4.7-Flash")["n_layer"] = None
    with pytest.raises(gen.CatalogInputError, match="n_layer"):
        gen.build(research, extra)


def test_the_catalog_cites_the_zbook_article_by_title_and_date() -> None:
    data = json.loads(SHIPPED.read_text(encoding="utf-8"))
    article = data["sources"]["ZBOOK_2026_02"]
    assert "Carve-out VRAM is not unified memory" in article and "2026-02-02" in article


def test_a_family_file_joins_the_catalog_and_a_repeated_id_is_refused(tmp_path: Path) -> None:
    gen = _generator()
    research = json.loads(gen.RESEARCH.read_text(encoding="utf-8"))
    extra = json.loads(gen.EXTRA.read_text(encoding="utf-8"))
    first_research, first_entry = research["models"][0], extra["models"][0]
    families = tmp_path / "families"
    families.mkdir()
    copy_research = dict(first_research, id="Copy")
    copy_entry = dict(first_entry, research_id="Copy", id="copy-model")
    family = {"sources": {"COPY_SRC": "a copy"}, "research": [copy_research]}
    family["catalog"] = [copy_entry]
    (families / "a.json").write_text(json.dumps(family), encoding="utf-8")
    built = json.loads(gen.render(families=families))
    assert [m["id"] for m in built["models"]][-1] == "copy-model"
    assert built["sources"]["COPY_SRC"] == "a copy"
    (families / "b.json").write_text(json.dumps(family), encoding="utf-8")
    with pytest.raises(gen.CatalogInputError, match="given twice"):
        gen.render(families=families)
