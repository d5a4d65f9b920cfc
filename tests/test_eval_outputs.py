"""`nep eval`'s outputs never land inside a checkpoint it reads."""

from __future__ import annotations

from inference_helpers import nep, save_random_checkpoint


def test_json_inside_an_evaluated_checkpoint_is_refused(tags_domain, tmp_path):
    """`--json m/nep.json` wrote the metrics over the checkpoint's own file, and the model was lost."""
    model = save_random_checkpoint(tmp_path / "model", tags_domain, seed=2)
    kept = {path.name: path.read_bytes() for path in model.iterdir()}
    for args, option, output in (
        (("--model", str(model)), "--json", model / "nep.json"),
        (("--model", "ngram", "--compare", str(model)), "--json", model / "config.json"),
        (("--model", str(model)), "--json", model / "sub" / "eval.json"),
    ):
        result = nep("eval", "--domain", "tags", *args, "--limit", "2", option, str(output))
        assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
        assert f"{option} {output} is inside the checkpoint {model}" in result.stderr.replace("\n", "")
    assert {path.name: path.read_bytes() for path in model.iterdir()} == kept
