"""MkDocs hooks of the documentation site (named in ``mkdocs.yml``).

* The "Results" section of the nav lists every page that ``scripts/build_docs_pages.py``
  generated under ``docs/results/``, so a new benchmark area needs no nav edit.
* The build fails when a generated part of the docs (config tables, results pages, the
  README's tables) no longer matches what ``scripts/build_docs_pages.py`` would write: run it
  and commit the result.
* Pages written on other branches (``PENDING_PAGES``) get a short placeholder while absent,
  so the nav and links to them build; once every branch is merged the list is empty and a
  missing page fails the strict build again.
"""

from __future__ import annotations

import logging
import os
import sys

from mkdocs.structure.files import File

log = logging.getLogger("mkdocs.hooks.hf_recsys")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

#: pages that other branches add; each gets a placeholder until it exists
PENDING_PAGES = {
    "guides/command-line.md": "Command line",
    "guides/your-data.md": "Your own data",
    "guides/fine-tuning.md": "Fine-tuning",
    "guides/publishing.md": "Publishing to the Hub",
    "guides/serving.md": "Serving",
    "guides/p5.md": "P5 and text-to-text",
    "guides/long-histories.md": "Long histories",
    "models/hstu.md": "HSTU",
    "experiments/ctr-quality.md": "CTR quality against a peer",
}


def _builder():
    sys.path.insert(0, os.path.join(ROOT, "scripts"))
    try:
        import build_docs_pages
    finally:
        sys.path.pop(0)
    return build_docs_pages


def on_config(config, **kwargs):
    docs_dir = config["docs_dir"]
    results = sorted(
        f"results/{name}" for name in os.listdir(os.path.join(docs_dir, "results"))
        if name.endswith(".md") and name != "index.md"
    )
    for section in config["nav"]:
        if isinstance(section, dict) and "Results" in section:
            section["Results"] = ["results/index.md"] + results
    stale = _builder().stale_outputs()
    if stale:
        raise SystemExit(
            "generated docs are out of date: " + ", ".join(stale)
            + " (run: python scripts/build_docs_pages.py)"
        )
    return config


def on_files(files, config, **kwargs):
    for path, title in PENDING_PAGES.items():
        if files.get_file_from_path(path) is None:
            log.info("placeholder for %s (written on another branch)", path)
            files.append(File.generated(
                config, path,
                content=f"# {title}\n\nThis page is written on another branch and arrives when it is merged.\n",
            ))
    return files
