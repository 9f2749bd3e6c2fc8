"""The service's configuration: one TOML file, read by pydantic-settings, environment variables over it.

Sections (``deploy/liqheat.example.toml`` shows each with its defaults):

- ``[server]`` ``host``, ``port``: where the API and the page are served;
- ``[store]`` ``path``: the store folder (default ``$LIQHEAT_HOME``, else ``~/.liqheat``);
- ``[[markets]]`` ``venues`` × ``symbols`` at ``timeframe``: each pair is a market, named
  ``<base>-<venue>-<timeframe>`` (``btc-binance-1m``) as the server names a store market;
- ``[[alerts]]`` one rule each: ``rule`` (its kind: near, swept, cascade, open_interest, funding, stale), an
  optional ``name`` (default: the kind), ``markets`` (default: all), ``destinations`` (default: all),
  ``cooldown`` and the kind's own keys (:mod:`liqheat.alerts.rules`);
- ``[destinations.NAME]`` either ``url`` (an apprise URL; ``telegram_api`` moves a ``tgram://`` one to
  another Bot API server) or ``webhook`` with ``secret`` (liqheat's signed webhook);
- ``[delivery]`` ``state`` (the SQLite file of alert state and outbox, default ``<store>/alerts.sqlite``),
  ``retry_min``, ``retry_max``, ``timeout``.

An environment variable ``LIQHEAT_<SECTION>__<KEY>`` overrides a key (``LIQHEAT_SERVER__PORT=9000``,
``LIQHEAT_DESTINATIONS__HOOK__SECRET=…``: secrets need not sit in the file); a list or table is given as
JSON (``LIQHEAT_MARKETS='[{"venues": ["okx"], "symbols": ["BTC-USDT-SWAP"]}]'``).

:func:`load_config` answers a :class:`ServiceConfig` or raises :class:`ConfigError`, which lists every
problem as ``key: message`` with the key as a path (``markets[2].symbols[0]``, ``alerts[1].within_pct``)
and says when the value came from the environment.
"""

from __future__ import annotations

import os
import re
import tomllib
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from liqheat.alerts import rules as alert_rules
from liqheat.model import DomainError, Market
from liqheat.timeutil import duration_seconds, format_seconds

if TYPE_CHECKING:
    from liqheat.alerts.deliver import Deliverer, Destination
    from liqheat.alerts.monitor import Monitor
    from liqheat.alerts.state import AlertStore

ENV_PREFIX = "LIQHEAT_"
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class ConfigError(DomainError):
    """Every problem of a config, each as (key, message); ``str()`` is one line per problem."""

    def __init__(self, source: str, problems: list[tuple[str, str]]) -> None:
        self.source = source
        self.problems = problems
        super().__init__("\n".join(f"{source}: {key}: {message}" if key else f"{source}: {message}" for key, message in problems))


def _seconds(value: Any) -> Any:
    """A duration as written (``"30m"``, ``"8h"``) or a number of seconds → seconds."""
    if isinstance(value, str):
        try:
            return float(duration_seconds(value, "duration"))
        except DomainError:
            raise ValueError(f"must be a duration such as 30s, 5m, 1h or 1d (or seconds), got {value!r}") from None
    return value


Seconds = Annotated[float, BeforeValidator(_seconds)]


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Server(Section):
    host: str = Field(default="127.0.0.1", min_length=1)
    port: int = Field(default=8000, ge=1, le=65535)


class Store(Section):
    path: Path | None = None  # None: $LIQHEAT_HOME, else ~/.liqheat


class Markets(Section):
    """``venues`` × ``symbols``: every venue follows every symbol (each spelled as ``liqheat calc`` takes it)."""

    venues: list[str] = Field(min_length=1)
    symbols: list[str] = Field(min_length=1)
    timeframe: str = "1m"

    @field_validator("venues")
    @classmethod
    def _venues(cls, venues: list[str]) -> list[str]:
        from liqheat.venues.registry import FEEDS

        for i, venue in enumerate(venues):
            if venue.strip().lower() not in FEEDS:
                raise ValueError(f"venues[{i}]: unknown venue {venue!r} (known: {', '.join(FEEDS)})")
        return [v.strip().lower() for v in venues]

    @field_validator("timeframe")
    @classmethod
    def _timeframe(cls, text: str) -> str:
        try:
            duration_seconds(text, "timeframe")
        except DomainError as exc:
            raise ValueError(str(exc).removeprefix("timeframe ")) from None
        return text.strip()


@dataclass(frozen=True)
class MarketSpec:
    """One followed market: a venue, a symbol as written and as resolved, a timeframe; ``id`` names it."""

    id: str
    venue: str
    symbol: str
    market: Market
    timeframe: str


def market_id(base: str, venue: str, timeframe: str) -> str:
    """``btc-binance-1m``: how the server names a one-venue store market (api.markets)."""
    return re.sub(r"[^a-z0-9]+", "-", f"{base}-{venue}-{timeframe}".lower()).strip("-")


class RuleConfig(Section):
    """Keys every rule has; ``rule`` picks the kind."""

    kind: ClassVar[str] = ""
    name: str | None = None
    markets: list[str] | None = None
    destinations: list[str] | None = None
    cooldown: Seconds = 3600.0

    @field_validator("*")
    @classmethod
    def _limits(cls, value: Any, info: ValidationInfo) -> Any:
        try:
            alert_rules.check_value(str(info.field_name), value)
        except DomainError as exc:
            raise ValueError(str(exc)) from None
        return value

    @model_validator(mode="after")
    def _whole(self) -> RuleConfig:
        try:
            self.to_rule()
        except DomainError as exc:
            raise ValueError(str(exc)) from None
        return self

    def to_rule(self) -> alert_rules.Rule:
        fields = self.model_dump(exclude={"rule"})
        fields["name"] = self.name or self.kind
        for key in ("markets", "destinations"):
            fields[key] = tuple(fields[key]) if fields[key] is not None else None
        return alert_rules.RULES[self.kind](**fields)


class NearConfig(RuleConfig):
    kind: ClassVar[str] = "near"
    rule: Literal["near"]
    within_pct: float | None = None
    within_atr: float | None = None
    min_usd: float = 0.0
    min_expected_usd: float | None = None
    side: Literal["both", "long", "short"] = "both"
    hysteresis: float = 0.5


class SweptConfig(RuleConfig):
    kind: ClassVar[str] = "swept"
    rule: Literal["swept"]
    min_usd: float = 0.0
    side: Literal["both", "long", "short"] = "both"


class CascadeConfig(RuleConfig):
    kind: ClassVar[str] = "cascade"
    rule: Literal["cascade"]
    above: float
    direction: Literal["both", "down", "up"] = "both"
    hysteresis: float = 0.5


class OpenInterestConfig(RuleConfig):
    kind: ClassVar[str] = "open_interest"
    rule: Literal["open_interest"]
    change_pct: float
    window: Seconds = 3600.0
    direction: Literal["both", "down", "up"] = "both"
    hysteresis: float = 0.5


class FundingConfig(RuleConfig):
    kind: ClassVar[str] = "funding"
    rule: Literal["funding"]
    change_bps: float
    window: Seconds = 8 * 3600.0
    direction: Literal["both", "down", "up"] = "both"
    hysteresis: float = 0.5


class StaleConfig(RuleConfig):
    kind: ClassVar[str] = "stale"
    rule: Literal["stale"]
    after: float = 3.0


RULE_CONFIGS: dict[str, type[RuleConfig]] = {
    c.kind: c for c in (NearConfig, SweptConfig, CascadeConfig, OpenInterestConfig, FundingConfig, StaleConfig)
}
AnyRule = Annotated[
    NearConfig | SweptConfig | CascadeConfig | OpenInterestConfig | FundingConfig | StaleConfig, Field(discriminator="rule")
]


class DestinationConfig(Section):
    """An apprise ``url`` or a signed ``webhook`` with its ``secret``."""

    url: str | None = None
    telegram_api: str | None = None
    webhook: str | None = None
    secret: SecretStr | None = None

    @field_validator("url")
    @classmethod
    def _url(cls, url: str | None) -> str | None:
        from liqheat.alerts.deliver import apprise_plugin

        if url is not None:
            try:
                apprise_plugin(url)
            except DomainError as exc:
                raise ValueError(str(exc).removeprefix("url: ")) from None
        return url

    @field_validator("webhook", "telegram_api")
    @classmethod
    def _http(cls, url: str | None) -> str | None:
        parts = urllib.parse.urlsplit(url or "")
        if url is not None and (parts.scheme not in ("http", "https") or not parts.hostname):
            raise ValueError(f"must be an http:// or https:// URL, got {url!r}")
        return url

    @field_validator("secret")
    @classmethod
    def _secret(cls, secret: SecretStr | None) -> SecretStr | None:
        if secret is not None and len(secret.get_secret_value()) < 16:
            raise ValueError("must be at least 16 characters (it signs every webhook)")
        return secret

    @model_validator(mode="after")
    def _one(self) -> DestinationConfig:
        if (self.url is None) == (self.webhook is None):
            raise ValueError("give url (an apprise URL) or webhook (with secret), one of them")
        if self.webhook is not None and self.secret is None:
            raise ValueError(f"secret is required with webhook (or set {ENV_PREFIX}DESTINATIONS__<NAME>__SECRET)")
        if self.url is not None and self.secret is not None:
            raise ValueError("secret goes with webhook; an apprise url carries its own credentials")
        if self.webhook is not None and self.telegram_api is not None:
            raise ValueError("telegram_api goes with a tgram:// url, not with webhook")
        try:
            self.build("check")
        except DomainError as exc:
            raise ValueError(str(exc)) from None
        return self

    def build(self, name: str, timeout: float = 10.0) -> Destination:
        from liqheat.alerts.deliver import AppriseDestination, WebhookDestination

        if self.webhook is not None:
            secret = self.secret.get_secret_value() if self.secret is not None else ""
            return WebhookDestination(name, self.webhook, secret, timeout=timeout)
        return AppriseDestination(name, self.url or "", telegram_api=self.telegram_api)


class Delivery(Section):
    state: Path | None = None  # None: alerts.sqlite in the store folder
    retry_min: Seconds = Field(default=5.0, gt=0, le=3600)
    retry_max: Seconds = Field(default=600.0, gt=0, le=86_400)
    timeout: Seconds = Field(default=10.0, gt=0, le=300)

    @model_validator(mode="after")
    def _order(self) -> Delivery:
        if self.retry_max < self.retry_min:
            low, high = format_seconds(round(self.retry_min)), format_seconds(round(self.retry_max))
            raise ValueError(f"retry_max ({high}) is below retry_min ({low})")
        return self


class _Toml(PydanticBaseSettingsSource):
    """The TOML file's table, below the environment (pydantic-settings' own TOML source takes its path from the
    class; here each load names its own file)."""

    def __init__(self, settings_cls: type[BaseSettings], data: dict[str, Any]) -> None:
        super().__init__(settings_cls)
        self.data = data

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return self.data.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(self.data)


class ServiceConfig(BaseSettings):
    """The whole config; :func:`load_config` reads it from a file."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, env_nested_delimiter="__", extra="forbid", frozen=True)
    _toml: ClassVar[dict[str, Any]] = {}

    server: Server = Server()
    store: Store = Store()
    markets: list[Markets] = Field(default_factory=list)
    alerts: list[AnyRule] = Field(default_factory=list)
    destinations: dict[str, DestinationConfig] = Field(default_factory=dict)
    delivery: Delivery = Delivery()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return init_settings, env_settings, _Toml(settings_cls, cls._toml)

    # -- what the service builds from it --------------------------------------------------------------

    @property
    def store_path(self) -> Path:
        from liqheat.store.parquet_store import default_root

        return (self.store.path or default_root()).expanduser()

    @property
    def state_path(self) -> Path:
        return (self.delivery.state or self.store_path / "alerts.sqlite").expanduser()

    def market_list(self) -> list[MarketSpec]:
        """Every market, in the order of the file: each group's venues × symbols."""
        from liqheat.venues.symbols import resolve

        out = []
        for group in self.markets:
            for venue in group.venues:
                for symbol in group.symbols:
                    market = resolve(symbol, venue)
                    out.append(MarketSpec(market_id(market.base, venue, group.timeframe), venue, symbol, market, group.timeframe))
        return out

    def rules(self) -> list[alert_rules.Rule]:
        return [r.to_rule() for r in self.alerts]

    def build_destinations(self) -> dict[str, Destination]:
        return {name: d.build(name, self.delivery.timeout) for name, d in self.destinations.items()}

    def monitor(self, store: AlertStore) -> Monitor:
        from liqheat.alerts.monitor import Monitor

        return Monitor(self.rules(), store, list(self.destinations))

    def deliverer(self, store: AlertStore) -> Deliverer:
        from liqheat.alerts.deliver import Deliverer

        return Deliverer(store, self.build_destinations(), retry_min=self.delivery.retry_min, retry_max=self.delivery.retry_max)


def _key(loc: tuple[int | str, ...]) -> str:
    """``('markets', 2, 'symbols', 0)`` → ``markets[2].symbols[0]``; a rule's kind tag is left out."""
    out = ""
    for i, part in enumerate(loc):
        if isinstance(part, int):
            out += f"[{part}]"
        elif i >= 2 and loc[0] == "alerts" and i == 2 and part in RULE_CONFIGS:
            continue
        else:
            out += f".{part}" if out else str(part)
    return out


def _model_at(loc: tuple[int | str, ...]) -> type[BaseModel] | None:
    """The section or item model a key path leads into (for listing the keys it takes)."""
    if not loc:
        return ServiceConfig
    if loc[0] == "alerts":
        return RULE_CONFIGS.get(str(loc[2])) if len(loc) == 3 else None
    if loc[0] in ("markets", "destinations"):
        return (Markets if loc[0] == "markets" else DestinationConfig) if len(loc) == 2 else None
    sections: dict[str, type[BaseModel]] = {"server": Server, "store": Store, "delivery": Delivery}
    return sections.get(str(loc[0])) if len(loc) == 1 else None


def _message(err: Any) -> str:
    kind, msg = err["type"], str(err["msg"])
    loc = tuple(err["loc"])
    if kind == "extra_forbidden":
        model = _model_at(loc[:-1])
        known = ", ".join(k for k in model.model_fields if k != "rule") if model else ""
        return "unknown key" + (f" (known here: {known})" if known else "")
    if kind == "missing":
        return "required"
    if kind == "union_tag_invalid":
        return f"rule must be one of {', '.join(RULE_CONFIGS)}, got {err['ctx']['tag']!r}"
    if kind == "union_tag_not_found":
        return f"rule is required (one of {', '.join(RULE_CONFIGS)})"
    msg = msg.removeprefix("Value error, ")
    if kind == "literal_error" and "expected" in err.get("ctx", {}):
        msg = f"must be {err['ctx']['expected']}"
    if "input" in err and kind not in ("value_error",) and not isinstance(err["input"], dict | list):
        msg += f", got {err['input']!r}"
    last = loc[-1] if loc else ""
    return msg.removeprefix(f"{last} ") if isinstance(last, str) else msg


def _from_env(loc: tuple[int | str, ...]) -> str | None:
    """The environment variable a value at ``loc`` came from, if one is set."""
    names = {k.upper(): k for k in os.environ}
    parts = [p for p in loc if isinstance(p, str) and p not in RULE_CONFIGS]
    for n in range(len(parts), 0, -1):
        name = ENV_PREFIX + "__".join(parts[:n]).upper()
        if name in names:
            return names[name]
    return None


def _problems(exc: ValidationError) -> list[tuple[str, str]]:
    out = []
    for err in exc.errors():
        loc = tuple(err["loc"])
        msg = _message(err)
        # a validator that names a list item (venues[1]) speaks for the key below the one that failed
        if m := re.match(r"^(\w+\[\d+\]): (.*)$", msg, re.S):
            key, msg = f"{_key(loc[:-1])}.{m.group(1)}" if len(loc) > 1 else m.group(1), m.group(2)
        else:
            key = _key(loc)
        env = _from_env(loc)
        out.append((key, msg + (f" (from {env})" if env else "")))
    return out


def _cross_checks(cfg: ServiceConfig) -> list[tuple[str, str]]:
    """What no single key shows: names used twice, markets and destinations a rule names that do not exist."""
    from liqheat.venues.symbols import resolve

    problems: list[tuple[str, str]] = []
    seen: dict[str, str] = {}
    for g, group in enumerate(cfg.markets):
        for venue in group.venues:
            for s, symbol in enumerate(group.symbols):
                key = f"markets[{g}].symbols[{s}]"
                try:
                    market = resolve(symbol, venue)
                except DomainError as exc:
                    problems.append((key, f"{exc} (on {venue})"))
                    continue
                mid = market_id(market.base, venue, group.timeframe)
                if mid in seen and seen[mid] != key:
                    problems.append((key, f"{symbol} on {venue} is market {mid}, already given at {seen[mid]}"))
                seen.setdefault(mid, key)
    for name in cfg.destinations:
        if not NAME.match(name):
            problems.append((f"destinations.{name}", "a destination's name is 1-64 letters, digits, '-', '_' or '.'"))
    names: dict[str, int] = {}
    for i, rule in enumerate(cfg.alerts):
        name = rule.name or rule.kind
        if name in names:
            hint = "" if rule.name else f" (give each {rule.kind} rule its own name)"
            problems.append((f"alerts[{i}].name", f"{name!r} is already the name of alerts[{names[name]}]{hint}"))
        names.setdefault(name, i)
        for j, m in enumerate(rule.markets or []):
            if m not in seen:
                problems.append(
                    (f"alerts[{i}].markets[{j}]", f"no market {m!r} in markets (they are: {', '.join(seen) or 'none'})")
                )
        for j, d in enumerate(rule.destinations or []):
            if d not in cfg.destinations:
                problems.append(
                    (
                        f"alerts[{i}].destinations[{j}]",
                        f"no destination {d!r} (they are: {', '.join(cfg.destinations) or 'none'})",
                    )
                )
    if cfg.alerts and not cfg.destinations:
        problems.append(("destinations", "alerts are configured but no destination to send them to"))
    return problems


def load_config(path: str | Path) -> ServiceConfig:
    """Read and check the config at ``path`` (environment variables over it); :class:`ConfigError` lists every problem."""
    source = str(path)
    file = Path(path).expanduser()
    try:
        with file.open("rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(source, [("", "no such file")]) from None
    except IsADirectoryError:
        raise ConfigError(source, [("", "is a folder, not a config file")]) from None
    except OSError as exc:
        raise ConfigError(source, [("", f"cannot read it ({exc.strerror})")]) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(source, [("", f"not valid TOML: {exc}")]) from None
    except UnicodeDecodeError:
        raise ConfigError(source, [("", "not valid TOML: not UTF-8 text")]) from None
    return config_from(data, source)


def config_from(data: dict[str, Any], source: str = "config") -> ServiceConfig:
    """:func:`load_config` of a table already read (environment variables over it)."""
    loaded = type("ServiceConfig", (ServiceConfig,), {"_toml": data, "__module__": __name__})
    try:
        cfg: ServiceConfig = loaded()
    except ValidationError as exc:
        raise ConfigError(source, _problems(exc)) from None
    problems = _cross_checks(cfg)
    if problems:
        raise ConfigError(source, problems)
    return cfg


def summary(cfg: ServiceConfig) -> list[str]:
    """What the config asks for, one line each (``liqheat config check``); no secrets."""
    markets = cfg.market_list()
    lines = [
        f"server    http://{cfg.server.host}:{cfg.server.port}",
        f"store     {cfg.store_path}",
        f"state     {cfg.state_path} (alert state and outbox)",
        f"markets   {len(markets)}: " + (", ".join(m.id for m in markets) or "none"),
    ]
    destinations = cfg.build_destinations()
    for rule in cfg.rules():
        lines.append(f"alert     {describe_rule(rule)} → {', '.join(rule.destinations or destinations) or 'nowhere'}")
    for name, d in destinations.items():
        lines.append(f"send to   {name}: {d.describe()}")
    return lines


def describe_rule(rule: alert_rules.Rule) -> str:
    """``near (near): within 1 % of a cluster ≥ $5.0M, hysteresis 0.5 · all markets · cooldown 1h``."""
    usd = alert_rules.usd_text
    if isinstance(rule, alert_rules.Near):
        side = "" if rule.side == "both" else rule.side + " "
        what = f"within {rule.within:g} {rule.unit} of a {side}cluster" + (f" ≥ {usd(rule.min_usd)}" if rule.min_usd else "")
        if rule.min_expected_usd is not None:
            what += f" expected ≥ {usd(rule.min_expected_usd)} in 24 h"
        what += f", hysteresis {rule.hysteresis:g}"
    elif isinstance(rule, alert_rules.Swept):
        side = "" if rule.side == "both" else rule.side + " "
        what = f"a {side}cluster" + (f" ≥ {usd(rule.min_usd)}" if rule.min_usd else "") + " swept"
    elif isinstance(rule, alert_rules.CascadeRisk):
        what = f"cascade risk ≥ {rule.above:g} ({rule.direction})"
    elif isinstance(rule, alert_rules.OpenInterest):
        what = f"open interest ±{rule.change_pct:g} % in {format_seconds(round(rule.window))} ({rule.direction})"
    elif isinstance(rule, alert_rules.Funding):
        what = f"funding ±{rule.change_bps:g} bp in {format_seconds(round(rule.window))} ({rule.direction})"
    else:
        what = f"no candle for {getattr(rule, 'after', 0):g} timeframes"
    where = ", ".join(rule.markets) if rule.markets else "all markets"
    return f"{rule.name} ({rule.kind}): {what} · {where} · cooldown {format_seconds(round(rule.cooldown))}"
