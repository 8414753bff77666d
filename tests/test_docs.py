"""The README and docs/ point at files that exist: links, images and the programs they name."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
LINK = re.compile(r"\]\(([^)\s]+)\)")  # [text](target) and ![alt](target)
PROGRAM = re.compile(r"\b((?:examples|real)/[\w/]+\.py)\b")


def _relative_links(text: str) -> list[str]:
    targets = (t.split("#")[0] for t in LINK.findall(text))
    return [t for t in targets if t and "://" not in t]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_relative_link_and_image_exists(page):
    missing = [t for t in _relative_links(page.read_text()) if not (page.parent / t).exists()]
    assert not missing, f"{page.name} links to missing files: {missing}"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_program_named_exists(page):
    named = set(PROGRAM.findall(page.read_text()))
    missing = sorted(p for p in named if not (ROOT / p).is_file())
    assert not missing, f"{page.name} names programs that do not exist: {missing}"


def _reachable_from(page: Path) -> set[Path]:
    seen, todo = set(), [page]
    while todo:
        current = todo.pop()
        if current in seen or current.suffix != ".md" or not current.is_file():
            continue
        seen.add(current)
        todo += [(current.parent / t).resolve() for t in _relative_links(current.read_text())]
    return seen


def test_every_docs_page_can_be_reached_from_the_readme():
    reachable = _reachable_from((ROOT / "README.md").resolve())
    unreachable = [p.relative_to(ROOT) for p in PAGES[1:] if p.resolve() not in reachable]
    assert not unreachable, f"no link leads from the README to {unreachable}"


def test_the_readme_stays_a_readme():
    """At most 250 lines: measurements go to dated pages under docs/results/."""
    assert len((ROOT / "README.md").read_text().splitlines()) <= 250


CODE_DIRS = ("dexndm_envs", "dexndm_agents", "examples", "real")
CITED_PAGE = re.compile(r"\b((?:docs/[\w./-]+|[A-Z]+)\.md)\b")


def test_every_page_the_code_cites_exists():
    """Docstrings and comments point readers at .md files: each must be there."""
    cited = {
        (path.relative_to(ROOT), page)
        for folder in CODE_DIRS
        for path in (ROOT / folder).rglob("*.py")
        for page in CITED_PAGE.findall(path.read_text())
    }
    missing = sorted(f"{where}: {page}" for where, page in cited if not (ROOT / page).is_file())
    assert cited and not missing, f"code cites pages that do not exist: {missing}"


def test_a_broken_link_is_caught(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("see [this](nowhere.md) and ![fig](img/there.png) and [web](https://x.org)")
    (tmp_path / "img").mkdir()
    (tmp_path / "img" / "there.png").write_bytes(b"")
    missing = [t for t in _relative_links(page.read_text()) if not (page.parent / t).exists()]
    assert missing == ["nowhere.md"]
