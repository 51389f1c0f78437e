"""Configuration: defaults < TOML file < CALLSUITE_* environment < command-line flags.

Every option is documented in README.md ("Configuration"). Secrets (the CTI token) have
no default: the feature that needs one stays closed until it is configured.
"""
from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, fields, replace
from datetime import timedelta
from pathlib import Path
from typing import Any, Mapping, Optional


class ConfigError(ValueError):
    pass


@dataclass(frozen=True)
class Settings:
    host: str = "0.0.0.0"
    port: int = 8000  # blueButler's documented port
    data_dir: Path = Path("callsuite-data")
    database_url: Optional[str] = None  # default: SQLite in data_dir
    public_base_url: Optional[str] = None  # default: taken from each request's Host
    trusted_proxy: Optional[str] = None  # address of a reverse proxy whose X-Forwarded-* we believe ("*": any)
    trusted_proxy_count: int = 1  # how many proxies in a row
    timezone: str = "UTC"  # blueButler and Recall date-times (CONTRACTS §4)
    default_region: str = "US"  # how bare national numbers from a switch are read
    threads: int = 8
    max_body_bytes: int = 10 * 1024 * 1024
    max_recording_bytes: int = 200 * 1024 * 1024
    switch: str = "simulated"  # "simulated" or "none" (CTI ingest only)
    playback_channels: int = 2
    crashed_calls_sweep_s: float = 30.0  # PostgreSQL: how often a process ends the simulated calls of stopped ones
    outbound_outcomes: tuple = ()  # rules for simulated outbound calls
    cti_token: Optional[str] = None
    retention_days: int = 0  # 0 keeps recordings for ever
    recall_tolerance_s: int = 120
    outbox_interval_s: float = 1.0
    outbox_max_attempts: int = 12
    access_log: bool = True
    log_level: str = "INFO"
    # Who may scrape /metrics (addresses or CIDR networks): loopback and private ranges.
    metrics_allowed_networks: tuple = ("127.0.0.0/8", "::1/128", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")
    signin_max_failures: int = 5  # failed sign-ins of one account from one address before it waits
    signin_max_address_failures: int = 30  # failed sign-ins from one address (any accounts) before it waits
    signin_window_s: int = 900  # how long a failed sign-in counts
    recall_allowed_networks: tuple = ("127.0.0.0/8", "::1/128", "10.0.0.0/8", "172.16.0.0/12",
                                      "192.168.0.0/16", "fc00::/7")  # RetrieveRecFile without credentials
    sim_allowed_networks: tuple = ("127.0.0.0/8", "::1/128")  # who may use /sim/v1
    outbox_timeout_s: float = 10.0  # one outbox delivery's HTTP timeout (its lease is this + 5 s)
    connection_limit: int = 1000  # open connections waitress serves at once (a few slow clients cannot fill it)
    channel_timeout_s: int = 30  # idle connections close after this; also the time allowed to send a request's headers
    listen_backlog: int = 1024  # connections the kernel queues while all are busy
    agent_answer_after_s: float = 2.0  # simulated switch: seconds before a number an agent dials answers
    agent_token_hours: float = 12.0  # how long an agent API token (POST /webservices/services/token) lasts
    outbox_backoff_cap_s: float = 300.0  # longest wait between two delivery attempts of one entry
    events_port: int = 8001  # the events server (SignalR hub /signalr, SSE /events/...); 0 = any free port
    events_allowed_origins: str = "*"  # origins allowed to call the events server (comma-separated; "*" any)
    events_keepalive_s: float = 10.0  # keep-alive interval of event streams (SignalR KeepAliveTimeout = 2x)
    events_long_poll_s: float = 110.0  # how long a long poll waits (SignalR ConnectionTimeout)
    events_db_poll_s: float = 5.0  # safety-net poll of the database for statuses a wake-up missed
    events_scripts_dir: Optional[str] = None  # npm --prefix folder with jquery + signalr for /events/demo

    @property
    def agent_token_ttl(self) -> timedelta:
        return timedelta(hours=self.agent_token_hours)
    callback_interval_s: float = 0.5  # how often the callback engine looks for due requests
    callback_concurrency: int = 8  # callback attempts one process runs at once
    callback_max_attempts: int = 3  # user legs tried before a request is CallFailed
    callback_retry_delay_s: float = 300.0  # wait after a failed attempt before the next (Rescheduled)
    callback_ring_timeout_s: float = 30.0  # how long the user (and then the agent) leg may ring
    callback_lease_s: float = 30.0  # a claim not renewed for this long belongs to a dead process
    callback_asap_ewt_minutes: int = 5  # ASAP requests run once the queue's EWT is at most this
    callback_answer_after_s: float = 2.0  # simulated switch: when the user answers
    callback_agent_answer_s: float = 1.0  # simulated switch: when the queue's agent answers
    callback_talk_s: float = 10.0  # simulated switch: how long the agent talks before hanging up
    # switch = "sip" (services/telephony/sip; README "Connecting a SIP trunk or PBX"):
    sip_proxy: str = "sip:127.0.0.1:5060"  # outbound proxy every call goes through (kamailio, the PBX, the trunk)
    sip_domain: Optional[str] = None  # host[:port] of the SIP URIs dialled; default: the proxy's
    sip_account: Optional[str] = None  # the account (digest user name) calls are placed as
    sip_password: Optional[str] = field(default=None, repr=False)  # its digest password (never logged)
    sip_codecs: str = "PCMU,PCMA"  # G.711 only: the recordings are decoded from rtpengine's RTP captures
    sip_rtpengine_ng: str = "127.0.0.1:2223"  # rtpengine's NG control address (start/stop recording)
    sip_recording_dir: Optional[str] = None  # rtpengine's recording-dir (pcaps/); default data_dir/sip/rtpengine
    sip_media_dir: Optional[str] = None  # the sidecar's config, state and play-by-phone WAVs; default data_dir/sip
    sip_baresip: str = "baresip"  # the baresip binary the driver runs as its sidecar
    sip_max_calls: int = 100  # SIP call legs at once (150 measured clean on 2 cores; bench/bench_sip.py)

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'callsuite.db').resolve()}"

    @property
    def recordings_dir(self) -> Path:
        return self.data_dir / "recordings"


_FIELDS = {f.name: f for f in fields(Settings)}


def _coerce(name: str, value: Any) -> Any:
    target = _FIELDS[name].type
    try:
        if name == "data_dir":
            return Path(value)
        if name == "outbound_outcomes":
            return tuple(dict(rule) for rule in value)
        if target in ("tuple",):  # address lists: a TOML array, or "a, b" in the environment
            items = value.split(",") if isinstance(value, str) else value
            return tuple(str(item).strip() for item in items if str(item).strip())
        if target in ("int",):
            return int(value)
        if target in ("float",):
            return float(value)
        if target in ("bool",):
            if isinstance(value, bool):
                return value
            return str(value).strip().lower() in ("1", "true", "yes", "on")
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"option {name!r}: {exc}") from None
    return value


def load_settings(config_file: Optional[Path] = None, *, environ: Mapping[str, str] = os.environ,
                  overrides: Optional[Mapping[str, Any]] = None) -> Settings:
    values: dict[str, Any] = {}
    if config_file is not None:
        try:
            document = tomllib.loads(Path(config_file).read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"cannot read config file {config_file}: {exc}") from None
        section = document.get("callsuite", document)
        for key, value in section.items():
            if key not in _FIELDS:
                raise ConfigError(f"unknown option {key!r} in {config_file}")
            values[key] = value
    for name in _FIELDS:
        env_value = environ.get(f"CALLSUITE_{name.upper()}")
        if env_value is not None and name != "outbound_outcomes":
            values[name] = env_value
    for key, value in (overrides or {}).items():
        if value is not None:
            values[key] = value
    settings = replace(Settings(), **{k: _coerce(k, v) for k, v in values.items()})
    if settings.switch not in ("simulated", "sip", "none"):
        raise ConfigError("switch must be 'simulated', 'sip' or 'none'")
    if settings.cti_token is not None and len(settings.cti_token) < 16:
        raise ConfigError("cti_token must be at least 16 characters")
    return settings
