"""MkDocs hooks: the pages generated from the product itself, so the reference cannot drift from it.

- ``reference/cli.md``: every command of the CLI, from its click command tree (what ``archscore
  --help`` prints);
- ``reference/http.md``: every path of the HTTP API, from the service's own OpenAPI document;
- ``benchmarks/<name>.md`` (+ plots): every committed ``benchmarks/results/*.md`` result table;
- ``model-card.md``: the shipped model's card.
"""

from __future__ import annotations

from pathlib import Path

from mkdocs.structure.files import File, Files

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
BENCHMARK_TITLES = {
    "zoo": "Real networks (design families held out)",
    "few_shot": "Few-shot accuracy and latency",
    "zero_shot": "Zero-shot (leave one space out)",
    "default_model": "The shipped default model",
    "search": "Architecture search",
    "service_load": "The service under load",
    "service_load_nb201_same_file": "Bounded parsing under load: the same file",
    "service_load_nb201_new_cells": "Bounded parsing under load: a new cell each request",
    "hostile": "Hostile inputs",
}


def on_files(files: Files, config) -> Files:
    pages = {
        "reference/cli.md": cli_reference(),
        "reference/http.md": http_reference(),
        "model-card.md": (ROOT / "archscore" / "models" / "default" / "MODEL_CARD.md").read_text(),
    }
    for md in sorted(RESULTS.glob("*.md")):
        pages[f"benchmarks/{md.stem}.md"] = benchmark_page(md)
    for src_uri, content in pages.items():
        files.append(File.generated(config, src_uri, content=content))
    for png in sorted(RESULTS.glob("*.png")):
        files.append(File.generated(config, f"benchmarks/{png.name}", abs_src_path=str(png)))
    return files


def benchmark_page(md: Path) -> str:
    title = BENCHMARK_TITLES.get(md.stem, md.stem.replace("_", " ").capitalize())
    plots = "".join(f"\n![{p.stem}]({p.name})\n" for p in sorted(RESULTS.glob(f"{md.stem}*.png")))
    head = (
        f"# {title}\n\nGenerated from `benchmarks/results/{md.name}`, written by "
        f"`python benchmarks/{_script(md.stem)}.py`; the raw results are in `benchmarks/results/{md.stem}.json`.\n\n"
    )
    return head + md.read_text() + plots


def _script(stem: str) -> str:
    return "service_load" if stem.startswith("service_load") else stem


# -- the CLI ----------------------------------------------------------------------------------------
def cli_reference() -> str:
    from archscore.cli import command

    root = command()
    out = ["# CLI reference", "", "Generated from the CLI itself (`archscore COMMAND --help` prints the same).", ""]
    _command_section(root, ["archscore"], out)
    return "\n".join(out) + "\n"


def _command_section(cmd, path: list[str], out: list[str]) -> None:
    """One command's section (typer ships its own click: its classes are read by what they do)."""
    ctx = cmd.context_class(cmd, info_name=" ".join(path))
    group = hasattr(cmd, "list_commands")
    if len(path) > 1:
        out += [f"{'#' * min(len(path), 4)} `{' '.join(path)}`", ""]
    out += [_doc(cmd.help or ""), ""]
    if not group:
        usage = " ".join(cmd.collect_usage_pieces(ctx))
        out += ["```", f"{' '.join(path)} {usage}".rstrip(), "```", ""]
        rows = [r for p in cmd.params if p.name != "help" and not getattr(p, "hidden", False)
                for r in [p.get_help_record(ctx)] if r]  # fmt: skip
        if rows:
            out += ["| argument / option | meaning |", "|---|---|"]
            out += [f"| `{_cell(names)}` | {_cell(_doc(text))} |" for names, text in rows]
            out.append("")
    else:
        for name in cmd.list_commands(ctx):
            sub = cmd.get_command(ctx, name)
            if sub is not None and not sub.hidden:
                _command_section(sub, [*path, name], out)


def _doc(text: str) -> str:
    return " ".join(text.split("\n\n")[0].split()) if text else ""


def _cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


# -- the HTTP API -----------------------------------------------------------------------------------
def http_reference() -> str:
    from archscore.service.app import create_app

    spec = create_app().openapi()
    out = [
        "# HTTP API reference",
        "",
        f"Generated from the service's own OpenAPI document ({spec['info']['title']} {spec['info']['version']}). "
        "A running service serves the same document at `/openapi.json` and an interactive page at `/docs`.",
        "",
    ]
    for path, methods in spec["paths"].items():
        for method, op in methods.items():
            out += [f"## `{method.upper()} {path}`", "", op.get("summary", ""), ""]
            if op.get("description"):
                out += [op["description"].strip(), ""]
            params = op.get("parameters", [])
            if params:
                out += ["| parameter | in | type | required | meaning |", "|---|---|---|---|---|"]
                for p in params:
                    kind = _type(p.get("schema", {}))
                    out.append(f"| `{p['name']}` | {p['in']} | {kind} | {'yes' if p.get('required') else 'no'} | "
                               f"{_cell(p.get('description', ''))} |")  # fmt: skip
                out.append("")
            body = op.get("requestBody", {}).get("content", {})
            if body:
                kinds = ", ".join(f"`{t}` ({_type(c.get('schema', {}))})" for t, c in body.items())
                out += [f"Request body: {kinds}", ""]
            responses = op.get("responses", {})
            if responses:
                out += ["| status | meaning | body |", "|---|---|---|"]
                for status, r in responses.items():
                    schema = next(iter(r.get("content", {}).values()), {}).get("schema", {})
                    out.append(f"| {status} | {_cell(r.get('description', ''))} | {_type(schema) if schema else ''} |")
                out.append("")
    schemas = spec.get("components", {}).get("schemas", {})
    if schemas:
        out += ["## Schemas", ""]
        for name, schema in schemas.items():
            out += [f"### {name}", "", _cell(schema.get("description", "")), ""]
            props = schema.get("properties", {})
            if props:
                required = set(schema.get("required", []))
                out += ["| field | type | required | meaning |", "|---|---|---|---|"]
                for field, s in props.items():
                    out.append(f"| `{field}` | {_type(s)} | {'yes' if field in required else 'no'} | "
                               f"{_cell(s.get('description', ''))} |")  # fmt: skip
                out.append("")
    return "\n".join(out) + "\n"


def _type(schema: dict) -> str:
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return f"[{name}](#{name.lower()})"
    if "anyOf" in schema:
        return " or ".join(_type(s) for s in schema["anyOf"])
    if schema.get("type") == "array":
        return f"array of {_type(schema.get('items', {}))}"
    return schema.get("type", "object" if schema else "")
