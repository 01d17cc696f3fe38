"""`cares guard serve`: run the guarding proxy in front of an OpenAI-compatible model server."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from cares.errors import ConfigError, InputError

DESCRIPTION = """\
Serve an OpenAI-compatible endpoint that guards every chat request before forwarding it to
--upstream. The jailbreak-style detector scores the last user turn; with --mode flagged (the
default) a flagged request reaches the model with the safety reminder as its system message.
Every other request field, and the model's answer (plain or streamed), passes through unchanged.

Endpoints: POST /v1/chat/completions, GET /v1/models (forwarded), GET /healthz (no token needed).
Each response carries an X-Request-Id, and with --guard-header an X-Cares-Guard header (score, flagged, applied)."""

EPILOG = """\
security:
  Clients must send 'Authorization: Bearer <token>'. Tokens come from $CARES_GUARD_TOKEN
  (comma-separated) and/or --token-file (one a line); without any the proxy refuses to start
  unless --no-auth is given. The client's token is never sent upstream: the upstream key is read
  from the variable named by --upstream-key-env (default $OPENAI_API_KEY when it is set).
  The access log records sizes, timings and the guard's decision, never prompts or answers,
  unless --log-bodies is given. The proxy binds 127.0.0.1 unless --host says otherwise.

examples:
  CARES_GUARD_TOKEN=$(openssl rand -hex 24) \\
    cares guard serve --upstream http://localhost:8000/v1 --port 8080
  cares guard serve --upstream https://models.internal/v1 --upstream-key-env MODEL_KEY \\
    --token-file /etc/cares/tokens --access-log /var/log/cares-guard.jsonl --detector builtin:minilm
  cares guard serve --upstream http://localhost:8000/v1 --no-auth --mode always --port 0

See docs/guard-proxy.md for deployment, the log format and what the guard does and does not do.
"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    serve = sub.add_parser(
        "serve",
        help="OpenAI-compatible proxy that adds the safety reminder to flagged requests",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    where = serve.add_argument_group("where")
    where.add_argument("--upstream", required=True, metavar="URL",
                       help="base URL of the OpenAI-compatible model server, e.g. http://localhost:8000/v1")
    where.add_argument("--upstream-key-env", metavar="NAME",
                       help="environment variable holding the upstream API key (default: OPENAI_API_KEY if set)")
    where.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1, this machine only)")
    where.add_argument("--port", type=int, default=8080, help="port to listen on; 0 picks a free one (default 8080)")
    where.add_argument("--upstream-timeout", type=float, default=600.0, metavar="SECONDS",
                       help="longest wait for the next piece of an upstream answer (default 600)")
    where.add_argument("--client-timeout", type=float, default=30.0, metavar="SECONDS",
                       help="longest a client may take to send a request's headers, then its body, or stay idle "
                            "between requests; slower connections are closed (a slow body gets 408) (default 30)")

    access = serve.add_argument_group("access")
    access.add_argument("--token-file", type=Path, metavar="PATH",
                        help="file of client bearer tokens, one a line ('#' comments allowed)")
    access.add_argument("--no-auth", action="store_true",
                        help="serve without client authentication (only for a trusted, local setup)")
    access.add_argument("--max-body-bytes", type=int, default=1024 * 1024, metavar="N",
                        help="largest request body accepted; larger ones get 413 (default 1048576)")
    access.add_argument("--access-log", type=Path, metavar="FILE",
                        help="append JSON-lines access records here, created mode 600 (default: stderr)")
    access.add_argument("--log-bodies", action="store_true",
                        help="also log prompts and answers; they may hold patient data")

    guard = serve.add_argument_group("guard")
    guard.add_argument("--detector", default="builtin", metavar="PATH|builtin|builtin:minilm",
                       help="detector: builtin (TF-IDF), builtin:minilm, or a model file from `cares guard train`")
    guard.add_argument("--mode", choices=("flagged", "always", "never"), default="flagged",
                       help="when to add the reminder: flagged prompts (default), always, or never (score only)")
    guard.add_argument("--threshold", type=float, metavar="T",
                       help="flag scores at or above T (0-1; default: the detector's own threshold)")
    guard.add_argument("--reminder-file", type=Path, metavar="PATH",
                       help="UTF-8 text file with a reminder to use instead of the built-in one")
    guard.add_argument("--guard-header", action="store_true",
                       help="add an X-Cares-Guard header (score, flagged, applied) to answers; off by default, "
                            "because it tells a client probing the guard how close a wording came")
    serve.set_defaults(guard_handler=run_serve)


def read_reminder(path: Path) -> str:
    from cares.guard.proxy_auth import read_text_file

    text = read_text_file(path, "reminder file")
    if not text.strip():
        raise InputError(path, "reminder file is empty")
    return text.strip()


def warn(message: str) -> None:
    print(f"cares guard serve: warning: {message}", file=sys.stderr, flush=True)


def url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


async def run_serve(args: argparse.Namespace) -> int:
    from cares.guard.policy import Guard, GuardPolicy
    from cares.guard.proxy import GuardProxy, ProxyConfig, is_loopback, serve
    from cares.guard.proxy_auth import load_client_tokens, upstream_key
    from cares.guard.proxy_log import AccessLog

    if not 0 <= args.port <= 65535:
        raise ConfigError(f"--port must be 0-65535, not {args.port}")
    if args.threshold is not None and not 0.0 <= args.threshold <= 1.0:
        raise ConfigError(f"--threshold must be between 0 and 1, not {args.threshold}")
    if args.upstream_timeout <= 0:
        raise ConfigError(f"--upstream-timeout must be positive, not {args.upstream_timeout}")
    # Everything that can be wrong in the options is checked before the detector loads.
    tokens, token_warnings = load_client_tokens(args.token_file, os.environ, allow_none=args.no_auth)
    config = ProxyConfig(
        upstream=args.upstream,
        upstream_key=upstream_key(args.upstream_key_env, os.environ),
        tokens=tokens if len(tokens) else None,
        max_body_bytes=args.max_body_bytes,
        read_timeout_s=args.upstream_timeout,
        client_timeout_s=args.client_timeout,
        guard_header=args.guard_header,
    )
    policy_args = {"mode": args.mode, "threshold": args.threshold}
    if args.reminder_file is not None:
        policy_args["reminder"] = read_reminder(args.reminder_file)
    policy = GuardPolicy(**policy_args)

    from cares.guard.detector import load_detector

    detector = load_detector(args.detector)
    # Check and score once before listening: a detector that cannot run (minilm without its
    # packages) stops the proxy here instead of answering 503 to every request, and the first
    # client does not wait for the embedding model to load.
    detector.require()
    guard = Guard(detector, policy)
    guard.decide("warm-up")
    for message in token_warnings:
        warn(message)
    if config.tokens is None:
        warn("--no-auth: anyone who can reach this port can use the upstream model through it")
    if not is_loopback(args.host):
        warn(f"binding {args.host}, which other machines can reach; put TLS in front of it (see docs/guard-proxy.md)")
    if args.log_bodies:
        warn("--log-bodies: the access log will hold prompts and answers, which may include patient data")
    access_log = AccessLog(args.access_log, log_bodies=args.log_bodies)

    def ready(host: str, port: int) -> None:
        identity = guard.identity()
        detector = identity["detector"]
        print(f"cares guard serve: listening on http://{url_host(host)}:{port}/v1\n"
              f"  upstream {config.upstream}; detector {detector.get('kind')} "
              f"sha256 {str(detector.get('sha256'))[:12]}; mode {policy.mode}; threshold {guard.threshold:g}; "
              f"auth {'bearer' if config.tokens else 'off'}", flush=True)

    try:
        await serve(GuardProxy(guard, config, access_log), args.host, args.port, on_ready=ready)
    finally:
        access_log.close()
    print("cares guard serve: stopped", flush=True)
    return 0
