"""Models in the Hugging Face hub cache, read with huggingface_hub's own cache scanner.

Every model repo's snapshot that holds a config.json is a model folder; every GGUF file in a
snapshot is a model of its own. Files only reach a snapshot once complete, so a download in
progress is never listed; its partial blob (`blobs/*.incomplete`) is reported as an
interrupted download instead, with the command that resumes it. Nothing is read but the layout.
"""
from __future__ import annotations

from pathlib import Path

from .folders import SPLIT_PART
from .found import Found, Skipped

SOURCE = "hf-cache"


def find_hf_cache(cache_dir: Path) -> tuple[list[Found], list[Skipped]]:
    from huggingface_hub import scan_cache_dir
    from huggingface_hub.errors import CacheNotFound

    if not cache_dir.is_dir():
        return [], []
    cache_dir = cache_dir.resolve()  # the scanner reports resolved paths
    try:
        info = scan_cache_dir(cache_dir)
    except (CacheNotFound, ValueError, OSError):
        return [], []
    found: list[Found] = []
    skipped: list[Skipped] = []
    for warning in info.warnings:
        folder = _folder_in(str(warning), cache_dir)
        if folder is None or not folder.name.startswith("models--"):
            continue
        partials = _interrupted(folder, _repo_id(folder.name))
        skipped += partials or [Skipped(_repo_id(folder.name), SOURCE, str(folder),
                                        "cache folder damaged: " + str(warning).split(":")[0].lower())]
    for repo in sorted(info.repos, key=lambda r: r.repo_id.lower()):
        if repo.repo_type != "model":
            continue
        skipped += _interrupted(Path(repo.repo_path), repo.repo_id)
        revisions = sorted(repo.revisions, key=lambda r: r.last_modified, reverse=True)
        for revision in revisions:
            label = repo.repo_id
            if len(revisions) > 1:
                label += "@" + (sorted(revision.refs)[0] if revision.refs else revision.commit_hash[:7])
            snapshot = Path(revision.snapshot_path)
            names = sorted(Path(f.file_path).relative_to(snapshot).as_posix() for f in revision.files)
            if "config.json" in names:
                found.append(Found(snapshot, SOURCE, label, "folder"))
            for name in names:
                if not name.lower().endswith(".gguf"):
                    continue
                part = SPLIT_PART.search(name)
                if part and int(part.group(1)) != 1:
                    continue
                found.append(Found(snapshot / name, SOURCE, f"{label}/{name}", "gguf"))
    return found, skipped


def _interrupted(repo_folder: Path, repo_id: str) -> list[Skipped]:
    """Partial blobs of a download that stopped (before any snapshot pointer to them was written)."""
    skipped = []
    for partial in sorted((repo_folder / "blobs").glob("*.incomplete")):
        mb = partial.stat().st_size / 1e6
        skipped.append(Skipped(repo_id, SOURCE, str(partial),
                               f"interrupted download ({mb:.1f} MB so far): glasslm pull {repo_id} resumes it"))
    return skipped


def _repo_id(folder_name: str) -> str:
    return folder_name.split("--", 1)[-1].replace("--", "/")


def _folder_in(message: str, cache_dir: Path) -> Path | None:
    """The repo folder a scanner warning names (its messages end with a path inside the cache)."""
    for token in message.replace("(", " ").replace(")", " ").split():
        if token.startswith(str(cache_dir)):
            relative = Path(token).relative_to(cache_dir).parts
            return cache_dir / relative[0] if relative else None
    return None
