"""Generate synthetic sessions in one bpy process: ``python -m nep_blender.synthetic.worker JOB.json OUT.jsonl``.

JOB is ``{"seed": S, "indices": [...]}``. Each session depends only on (seed, index), starts from
Blender's empty factory scene and chains two to four recipe families. OUT gets one JSON object per
line: ``{"index", "families", "events"}``, or ``{"index", "error"}`` for a session whose recipe failed.
"""

from __future__ import annotations

import json
import os
import random
import sys


def generate(bpy, seed: int, index: int, scratch: str) -> dict:
    from nep_blender.synthetic.builder import RecipeFailed, SessionBuilder
    from nep_blender.synthetic.recipes import FAMILIES

    rng = random.Random(f"blender-synthetic:{seed}:{index}")
    bpy.ops.wm.read_factory_settings(use_empty=True)
    builder = SessionBuilder(bpy, rng, scratch)
    families = rng.sample(sorted(FAMILIES), rng.randint(2, 4))
    try:
        for position, family in enumerate(families):
            if position:
                builder.op("object.select_all", action="DESELECT")
                builder.maybe_pause(0.3)
            FAMILIES[family](builder)
    except RecipeFailed as error:
        return {"index": index, "error": f"{family}: {error}"}
    return {"index": index, "families": families, "events": builder.events}


def main() -> None:
    job_path, out_path = sys.argv[1], sys.argv[2]
    with open(job_path, encoding="utf-8") as handle:
        job = json.load(handle)
    saved = os.dup(1)
    os.dup2(2, 1)  # bpy and operators print to stdout; keep it off the result channel
    import bpy

    from nep_blender.synthetic.builder import new_scratch

    scratch = new_scratch()
    with open(out_path, "w", encoding="utf-8") as out:
        for index in job["indices"]:
            out.write(json.dumps(generate(bpy, job["seed"], index, scratch), separators=(",", ":")) + "\n")
            out.flush()
    os.dup2(saved, 1)


if __name__ == "__main__":
    main()
