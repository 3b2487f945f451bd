"""The `glasslm models` and `glasslm pull` verbs.

`models` prints the library as a table (or JSON with --json) and adds or removes folders;
`pull` downloads from the Hugging Face Hub with a tqdm progress bar (speed and time left).
Only argument parsing and printing: errors a user can cause arrive as `LibraryError`s, which
the top-level entry point prints as one line; Ctrl-C keeps what arrived, so pulling again resumes.
"""
from __future__ import annotations

import json
import sys

from . import add_folder, cached_model, download, offline, plan_pull, remove_folder, scan
from .catalog import Library
from .units import human_count, human_size


def register(subparsers):
    pull = subparsers.add_parser("pull", help="download a model from the Hugging Face Hub into its cache")
    pull.add_argument("repo_id", help="owner/name on the Hub, e.g. HuggingFaceTB/SmolLM2-135M-Instruct")
    pull.add_argument("--file", metavar="NAME.gguf", help="the GGUF file to download, when the repo holds several")
    pull.add_argument("--revision", metavar="R", help="branch, tag or commit (default: main)")
    pull.set_defaults(handler=run_pull)

    models = subparsers.add_parser("models", help="list the models on this machine (Hugging Face cache, LM Studio, "
                                                  "Ollama, GPT4All, added folders)")
    models.add_argument("--json", action="store_true", help="print JSON instead of a table")
    models.add_argument("--add", metavar="FOLDER", action="append", default=[], help="also look in FOLDER from now on")
    models.add_argument("--remove", metavar="FOLDER", action="append", default=[], help="stop looking in FOLDER")
    models.set_defaults(handler=run_models)


def run_models(args) -> int:
    for folder in args.add:
        added = add_folder(folder)
        print(f"added {added}", file=sys.stderr)
    for folder in args.remove:
        removed = remove_folder(folder)
        print(f"removed {removed}", file=sys.stderr)
    library = scan(on_describe=_describe_progress())
    if args.json:
        print(json.dumps(library.to_json(), indent=1))
    else:
        print(format_table(library))
    return 0


def run_pull(args) -> int:
    if offline():
        local = cached_model(args.repo_id, args.file, args.revision)
        if local is not None:
            print(f"{args.repo_id} is already in the cache (HF_HUB_OFFLINE is set): {local}")
            return 0
    plan = plan_pull(args.repo_id, args.file, args.revision)
    print(f"{plan.repo_id} @ {plan.commit[:10]}: {len(plan.files)} file{'s' if len(plan.files) != 1 else ''}, "
          f"{human_size(plan.total_bytes)} -> {plan.cache_dir}", file=sys.stderr)
    from tqdm import tqdm

    with tqdm(total=plan.total_bytes or None, unit="B", unit_scale=True, unit_divisor=1000, file=sys.stderr,
              dynamic_ncols=True) as bar:
        shown = 0

        def on_progress(p):
            nonlocal shown
            if bar.total != p.total and p.total:
                bar.total = p.total
            if p.file:
                bar.set_description_str(p.file[-40:], refresh=False)
            bar.update(p.done - shown)
            shown = p.done

        try:
            path = download(plan, on_progress)
        except KeyboardInterrupt:
            bar.close()
            print("download stopped; what arrived is kept: run the same command again to resume", file=sys.stderr)
            raise
    print(path)
    _say_if_unopenable(path)
    return 0


def format_table(library: Library) -> str:
    headers = ("NAME", "SOURCE", "FORMAT", "ARCH", "PARAMS", "QUANT", "SIZE", "CONTEXT", "OPENS", "PATH")
    rows = [(m.name, m.source, m.format, m.architecture or "?", human_count(m.n_params), m.quantization or "?",
             human_size(m.size_bytes), str(m.context_length or "?"), "yes" if m.can_open else f"no: {m.reason}",
             m.path) for m in library.models]
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    widths[-1] = 0  # the path is last and never padded
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in [headers, *rows]]
    if not rows:
        lines.append("(no models found)")
    if library.skipped:
        lines.append("")
        lines.append(f"Not listed ({len(library.skipped)}):")
        lines += [f"  {s.name} ({s.source}): {s.reason}" for s in library.skipped]
    for note in library.notes:
        lines.append(f"note: {note}")
    if library.folders:
        lines.append("")
        lines.append("Added folders: " + ", ".join(library.folders))
    return "\n".join(lines)


def _describe_progress():
    """A one-line counter on a terminal while new models' headers are read (silent when piped)."""
    if not sys.stderr.isatty():
        return None

    def show(done: int, total: int, name: str):
        end = "\n" if done + 1 == total else ""
        sys.stderr.write(f"\rreading headers {done + 1}/{total}: {name[:60]:<60}{end}")
        sys.stderr.flush()

    return show


def _say_if_unopenable(path) -> None:
    from .catalog import entry_for
    from .folder_facts import folder_facts
    from .found import Found
    from .gguf_facts import gguf_facts

    facts = folder_facts(path) if path.is_dir() else gguf_facts(path)
    entry = entry_for(Found(path, "hf-cache", path.name, "folder" if path.is_dir() else "gguf"), facts)
    if entry.can_open:
        print(f"open it with: glasslm chat --model {path}", file=sys.stderr)
    else:
        print(f"downloaded, but glasslm cannot open it yet: {entry.reason}", file=sys.stderr)
