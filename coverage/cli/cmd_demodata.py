"""``fcov demo-data``: regenerate the embedded synthetic demo county (a maintenance command)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from coverage.cli._app import app, info, stdout

_DEFAULT_SEED = 20240601  # keep equal to coverage.demodata.DEFAULT_SEED (checked by a test)


@app.command("demo-data")
def demo_data(
    out: Annotated[Path, typer.Option("--out", help="Folder to write into (the repository's data/ folder).")],
    seed: Annotated[int, typer.Option(help="Seed of the generator; the default reproduces the committed files.")] = (
        _DEFAULT_SEED
    ),
    province: Annotated[int | None, typer.Option(
        help="Write a synthetic province instead: N county configs (OUT/configs) and their data (OUT/data), "
             "county i with seed SEED+i-1, for `fcov batch`.", min=1)] = None,
    scale: Annotated[float | None, typer.Option(
        help="Write the synthetic prefecture (示例市, Ningbo scale) instead, at this scale: 1 (~400k OSM nodes, "
             "~1M populated cells, 9M people), 0.3 or 0.1 of the same layout; with its prefecture.toml config.",
        min=0.001, max=1.0)] = None,
) -> None:
    """Regenerate the synthetic demo county (示例县, all data invented) under OUT."""
    from coverage.demodata import generate_demo_data
    from coverage._io import check_output_path

    check_output_path(out, folder=True)

    if scale is not None:
        from coverage.demodata.prefecture import DEFAULT_PREFECTURE_SEED, generate_prefecture

        pref_seed = DEFAULT_PREFECTURE_SEED if seed == _DEFAULT_SEED else seed
        written = generate_prefecture(out, scale=scale, seed=pref_seed)
        info(f"synthetic prefecture at scale {scale:g} written under {out} (seed {pref_seed})")
        for key, path in written.items():
            stdout.print(f"{key}\t{path}", highlight=False, soft_wrap=True)
        return
    if province is not None:
        from coverage.batch.province import generate_province

        configs = generate_province(out, province, seed=seed)
        info(f"synthetic province of {province} counties written under {out} (seeds {seed}..{seed + province - 1})")
        for config in configs:
            stdout.print(str(config), highlight=False, soft_wrap=True)
        return
    paths = generate_demo_data(out, seed=seed)
    info(f"synthetic demo county written under {out} (seed {seed})")
    for key, path in paths.items():
        stdout.print(f"{key}\t{path}", highlight=False, soft_wrap=True)
