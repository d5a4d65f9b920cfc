"""``nep serve``."""

from __future__ import annotations

from pathlib import Path

import typer

from nep_core.cli.common import domain_option, location_model_option, model_option
from nep_core.output_folders import make_output_folder
from nep_core.server.defaults import DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_HISTORY_EVENTS

LOG_LEVELS = ("critical", "error", "warning", "info", "debug")


def command(
    domain: str = domain_option(),
    model: str = model_option(),
    location_model: str | None = location_model_option(),
    host: str = typer.Option(
        "127.0.0.1", "--host", help="Address to listen on. A non-loopback address needs --allow-remote."
    ),
    port: int = typer.Option(8765, "--port", "-p", min=0, max=65535, help="TCP port; 0 picks a free one."),
    data_dir: Path | None = typer.Option(
        None,
        "--data-dir",
        help="Folder for feedback session logs, written as DIR/<domain>/<session>.jsonl (default: $NEP_HOME/feedback).",
    ),
    data: str | None = typer.Option(
        None,
        "--data",
        help="Sessions a baseline is fitted on (a folder of logs or COLLECTOR:ARGUMENT; default: the domain's default data).",
    ),
    token: str | None = typer.Option(
        None,
        "--token",
        envvar="NEP_SERVER_TOKEN",
        show_default=False,
        help="Require 'Authorization: Bearer TOKEN' on /v1/ endpoints. Prefer the environment variable, "
        "which other users cannot see in the process list.",
    ),
    max_body_bytes: int = typer.Option(
        DEFAULT_MAX_BODY_BYTES, "--max-body-bytes", min=1, help="Largest request body accepted (413 above it)."
    ),
    max_history: int = typer.Option(
        DEFAULT_MAX_HISTORY_EVENTS, "--max-history", min=1, help="Most events accepted in one request's history."
    ),
    allow_remote: bool = typer.Option(
        False, "--allow-remote", help="Allow a --host that other machines can reach; needs --token."
    ),
    speculate: bool = typer.Option(
        True,
        "--speculate/--no-speculate",
        help="Precompute the next suggestion as if the shown one were accepted (docs/serving.md).",
    ),
    log_level: str = typer.Option(
        "warning", "--log-level", help=f"Server log level: {', '.join(LOG_LEVELS)}; info also logs each request."
    ),
    device: str = typer.Option(
        "cpu", "--device", help="Where the model runs: cpu, cuda, cuda:N, or auto (a GPU when there is one)."
    ),
    dtype: str = typer.Option(
        "auto", "--dtype", help="The model's number type: auto (bfloat16 on a GPU, float32 on the CPU), float32, bfloat16 or float16."
    ),
) -> None:
    """Serve suggestions over HTTP for the apps: POST /v1/suggest, POST /v1/feedback, GET /v1/health.

    Listens on 127.0.0.1 only, unless --allow-remote. Protocol and examples: docs/serving.md.
    The OpenAPI schema is at /openapi.json.

    Example: nep serve --domain turtle --model ngram --port 8765

    Then ask for suggestions:

    curl -s localhost:8765/v1/suggest -H 'Content-Type: application/json' -d '{"session": "demo", "history": [{"t": 0, "action": {"kind": "forward", "args": {"steps": 2}}}]}'
    """
    from nep_core.cli.common import console, info, warn, warn_if_trained_otherwise
    from nep_core.dataset import nep_home
    from nep_core.errors import NepError
    from nep_core.inference.factory import is_baseline, load_predictor, model_folder, train_examples_for
    from nep_core.inference.placement import resolve_placement
    from nep_core.inference.two_stage import check_two_stage_folders
    from nep_core.plugins import get_domain
    from nep_core.server.app import create_app
    from nep_core.server.binding import bind_socket, check_bind_host, socket_url
    from nep_core.server.guard import LOOPBACK_HOSTS, check_token
    from nep_core.server.runner import serve_forever
    from nep_core.server.speculation import SpeculationSettings

    if log_level not in LOG_LEVELS:
        raise NepError(f"--log-level {log_level}: choose one of {', '.join(LOG_LEVELS)}")
    check_token(token)  # before a model is fitted or loaded
    remote_warning = check_bind_host(host, allow_remote)
    if remote_warning and not token:
        raise NepError(
            f"--host {host} with --allow-remote needs --token (or NEP_SERVER_TOKEN): without one, any program on the network, "
            "and any web page a browser there opens, could use the server"
        )
    single_baseline = is_baseline(model) and location_model is None
    # a baseline runs no network: torch stays unimported unless a --device or --dtype asks for a check
    placement = ("cpu", None) if single_baseline and (device, dtype) == ("cpu", "auto") else resolve_placement(device, dtype)
    bundle = get_domain(domain)
    if location_model is not None:  # a missing folder's error alone: before the port is taken or a line says it loads
        check_two_stage_folders(model, location_model, bundle)
    elif not single_baseline:
        model_folder(model, bundle)
    if data is not None and not single_baseline:
        warn(f"--data is only used to fit a baseline; ignored for the model in {model}")
    label = model if location_model is None else f"{model} after locations from {location_model}"
    feedback_dir = data_dir if data_dir is not None else nep_home() / "feedback"
    make_output_folder(feedback_dir / bundle.name, "--data-dir" if data_dir is not None else "NEP_HOME's feedback folder")
    sock = bind_socket(host, port)
    try:
        train_examples = None
        if single_baseline:
            info(f"fitting the {model} baseline on {data or f'the default {domain} data'}")
            train_examples = train_examples_for(bundle, data, progress=info)
        else:
            info(f"loading the model in {label} ({placement[0]}, {str(placement[1]).removeprefix('torch.')})")
        predictor = load_predictor(model, bundle, train_examples, location_model=location_model, device=placement[0], dtype=placement[1])
        warn_if_trained_otherwise(predictor, bundle)
        app = create_app(
            bundle,
            predictor,
            data_dir=feedback_dir,
            token=token,
            max_body_bytes=max_body_bytes,
            max_history_events=max_history,
            model_name=label,
            allowed_hosts=None if remote_warning else (*LOOPBACK_HOSTS, host),
            speculation=SpeculationSettings() if speculate else SpeculationSettings(suggestions=0),
        )
        if remote_warning:
            warn(remote_warning)
        sock.listen(2048)  # from here connections queue (uvicorn's backlog) instead of being refused
        url = socket_url(sock)
        auth = ' -H "Authorization: Bearer $NEP_SERVER_TOKEN"' if token else ""
        for line in (
            f"nep serve: listening on {url} (domain {domain}, model {label}); feedback logs in {feedback_dir}",
            f"try: curl -s {url}/v1/health{auth}",
        ):
            console.print(line, markup=False, soft_wrap=True)
        console.file.flush()
        try:
            serve_forever(app, sock, log_level=log_level)
        except KeyboardInterrupt:  # uvicorn re-raises Ctrl-C after its graceful shutdown
            pass
        info("nep serve: stopped")
    finally:
        sock.close()
