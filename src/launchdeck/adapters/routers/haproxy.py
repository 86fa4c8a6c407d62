"""HAProxy as a router: the canary's share is set through HAProxy's Runtime API (admin socket).

The plan names the socket, the backend and the two servers of that backend (three with a same-age
baseline, ``servers.baseline``: a fresh copy of the stable version)::

    router: {type: haproxy, socket: /run/haproxy/admin.sock, backend: api, servers: {stable: v1, canary: v2}}

HAProxy must expose the socket at admin level (``stats socket /run/haproxy/admin.sock mode 600
level admin`` in its ``global`` section) and the backend must use a *dynamic* balance algorithm
(``roundrobin``, ``leastconn``, ``random``; not ``static-rr``) so weights change on the fly.

How a percentage becomes weights. Every weight is absolute (never the ``%`` form, which is
relative to the weight in the configuration file and silently gives 0 for a server configured
with weight 0): canary = ``round(p / 100 * scale)``, baseline = ``round(b / 100 * scale)``,
stable = ``scale`` minus both; with the default scale 256 (HAProxy's maximum) 25 % is canary 64 /
stable 192. The ``set server ... weight`` commands raise weights before they lower any, so the
servers never all stand at weight 0 and no server gets more than the larger of its old and new
share meanwhile.

Protocol. One command per connection, HAProxy's non-interactive mode: connect, write the command
and a newline, read to end of stream (HAProxy closes). A ``set`` command succeeds iff its reply is
blank; anything else ("No such server.", "Permission denied", ...) is a :class:`TargetError`
carrying the reply. A command costs about 0.1 ms on a local socket, so there is nothing to win
with ``prompt`` mode and a one-shot connection cannot be left in a half-read state.

Reading back. :meth:`HAProxyRouter.current_weight` sends ``show servers state <backend>`` (one
command gives, for both servers, the user weight that ``get weight`` reports and the admin state)
and returns the share of *new* requests the canary gets (``current_split``: the baseline's too): a
server in ``maint`` or ``drain`` counts as weight 0. When the weights read back are exactly those
that encode the last percentages this router set, those are returned as they are (so 33.3 % reads
back as 33.3, not as the 33.2 % that 85/256 is); otherwise the shares are computed from the weights. Every :meth:`set_weight` reads back
and raises :class:`WeightNotApplied` when the router does not report what was set.

Kill switch and drain. :meth:`kill` sets canary 0 / stable ``scale`` (verified), then puts the
canary server (and the baseline's) in ``maint``: no request reaches it any more, not even one that
a stickiness rule would send there; requests in flight finish. :meth:`drain` puts them in
``drain``: no new requests, but persistent (sticky) sessions are still honoured. Both are reversible: a later
``set_weight(p)`` with ``p > 0`` sets the canary's state back to ``ready``. Weights and states set
through the Runtime API live in HAProxy's memory only: a restart or reload returns to the weights
of the configuration file, which :meth:`current_weight` then reports; setting the weight again
re-applies it.
"""

from __future__ import annotations

import asyncio
import errno
from collections.abc import Mapping
from dataclasses import dataclass

from launchdeck.adapters.routers import Split, check_split, no_baseline
from launchdeck.errors import TargetError, WeightNotApplied

STABLE, CANARY, BASELINE = "stable", "canary", "baseline"
#: HAProxy's largest server weight.
MAX_WEIGHT = 256
#: ``srv_admin_state`` bits of ``show servers state`` (HAProxy's SRV_ADMF_*): forced, inherited,
#: configuration and resolver maintenance, forced and inherited drain.
_ADMIN_MAINT = 0x01 | 0x02 | 0x04 | 0x20
_ADMIN_DRAIN = 0x08 | 0x10
_READ_LIMIT = 1 << 20


@dataclass(frozen=True)
class ServerState:
    """One server as ``show servers state`` reports it."""

    name: str
    weight: int
    """The user weight (what ``get weight`` reports as current)."""
    initial_weight: int
    admin_state: int
    op_state: int

    @property
    def maint(self) -> bool:
        return bool(self.admin_state & _ADMIN_MAINT)

    @property
    def draining(self) -> bool:
        return bool(self.admin_state & _ADMIN_DRAIN)

    @property
    def effective_weight(self) -> int:
        """The weight new requests see: 0 while in maintenance or drain."""
        return 0 if self.maint or self.draining else self.weight




class HAProxyRouter:
    """Sets and reads the canary's share of a HAProxy backend through its admin socket."""

    def __init__(
        self,
        socket: str,
        backend: str,
        servers: Mapping[str, str],
        *,
        scale: int = MAX_WEIGHT,
        timeout_s: float = 2.0,
    ) -> None:
        missing = {STABLE, CANARY} - set(servers)
        if missing:
            raise TargetError(
                f"the haproxy router needs servers.stable and servers.canary; "
                f"missing {', '.join(sorted(missing))}",
                hint="name the two servers of the backend, e.g. servers: {stable: v1, canary: v2}",
            )
        named = [servers[r] for r in (STABLE, CANARY, BASELINE) if r in servers]
        if len(set(named)) < len(named):
            raise TargetError(
                f"servers {', '.join(f'{r}={servers[r]!r}' for r in (STABLE, CANARY, BASELINE) if r in servers)} "
                "name the same server twice",
                hint="name a different server of the backend for each version",
            )
        if isinstance(scale, bool) or not isinstance(scale, int) or not 1 <= scale <= MAX_WEIGHT:
            raise TargetError(f"scale must be an integer between 1 and {MAX_WEIGHT}, got {scale!r}")
        if not timeout_s > 0:
            raise TargetError(f"timeout_s must be > 0, got {timeout_s}")
        self.socket = socket
        self.backend = backend
        self.servers = {r: servers[r] for r in (STABLE, CANARY, BASELINE) if r in servers}
        self.scale = scale
        self.timeout_s = timeout_s
        self._lock = asyncio.Lock()
        self._last: tuple[Split, dict[str, int]] | None = None

    # -- Router protocol -------------------------------------------------------------------

    @property
    def type(self) -> str:
        return "haproxy"

    def weights_for(self, canary_percent: float) -> tuple[int, int]:
        """(canary, stable) absolute weights that encode a percentage."""
        weights = self.split_weights(canary_percent)
        return weights[CANARY], weights[STABLE]

    def split_weights(self, canary_percent: float, baseline_percent: float = 0.0) -> dict[str, int]:
        """Each server's absolute weight, by role, that encodes the canary's and the baseline's shares."""
        p, b = check_split(canary_percent, baseline_percent)
        canary, baseline = round(p / 100.0 * self.scale), round(b / 100.0 * self.scale)
        out = {CANARY: canary, STABLE: self.scale - canary - baseline}
        if BASELINE in self.servers:
            out[BASELINE] = baseline
        return out

    async def set_weight(self, canary_percent: float, baseline_percent: float = 0.0) -> None:
        """Set every server's weight, make a server ``ready`` again if it gets a share, read back and
        verify."""
        p, b = check_split(canary_percent, baseline_percent)
        if BASELINE not in self.servers:
            no_baseline("haproxy", b)
        want = self.split_weights(p, b)
        async with self._lock:
            before = await self._states()
            for role in self._order(before, want):
                await self._set(f"set server {self._ref(role)} weight {want[role]}")
            for role, share in ((CANARY, p), (BASELINE, b)):
                if share > 0 and (before[role].maint or before[role].draining):
                    await self._set(f"set server {self._ref(role)} state ready")
            self._last = (Split(p, b), want)
            after = await self._states()
        if {r: after[r].weight for r in want} != want or not self._share(after).matches(Split(p, b)):
            wanted = ", ".join(f"{self._ref(r)}={w}" for r, w in want.items())
            raise WeightNotApplied(
                f"haproxy {self.backend}: set {Split(p, b)} (weights {wanted}) but it reports {self._describe(after)}",
                hint="another client may be changing these servers (a second launchdeck, an "
                "operator, an agent-check); check `show servers state "
                f"{self.backend}` on {self.socket}",
            )

    async def current_split(self) -> Split:
        """The canary's and the baseline's shares of new requests as HAProxy reports them now."""
        return self._share(await self._states())

    async def current_weight(self) -> float:
        """The canary's share of new requests as HAProxy reports it now (see module docs)."""
        return (await self.current_split()).canary

    async def kill(self) -> None:
        """Canary (and baseline) weight 0 (verified), then in ``maint``: nothing new reaches them."""
        await self.set_weight(0.0)
        async with self._lock:
            for role in self._fresh():
                await self._set(f"set server {self._ref(role)} state maint")

    async def drain(self) -> None:
        """Canary (and baseline) in ``drain``: no new requests except sticky ones; in-flight requests
        finish."""
        async with self._lock:
            for role in self._fresh():
                await self._set(f"set server {self._ref(role)} state drain")

    def _fresh(self) -> list[str]:
        """The servers a rollback takes out: the canary, and the same-age baseline if there is one."""
        return [r for r in (CANARY, BASELINE) if r in self.servers]

    # -- reading ---------------------------------------------------------------------------

    async def server_states(self) -> dict[str, ServerState]:
        """Every server as HAProxy reports it, by role (stable, canary, baseline)."""
        return await self._states()

    async def command(self, command: str) -> str:
        """Send one Runtime API command and return HAProxy's reply (for diagnostics and tests)."""
        return await self._command(command)

    def _share(self, states: Mapping[str, ServerState]) -> Split:
        weights = {role: states[role].effective_weight for role in self.servers}
        total = sum(weights.values())
        if total == 0:
            return Split(0.0)
        if self._last is not None and weights == self._last[1]:
            return self._last[0]
        return Split(100.0 * weights[CANARY] / total, 100.0 * weights.get(BASELINE, 0) / total)

    def _describe(self, states: Mapping[str, ServerState]) -> str:
        parts = []
        for role in (CANARY, BASELINE, STABLE):
            if role not in self.servers:
                continue
            s = states[role]
            flag = " (maint)" if s.maint else " (drain)" if s.draining else ""
            parts.append(f"{self._ref(role)}={s.weight}{flag}")
        return ", ".join(parts) + f": {self._share(states)}"

    async def _states(self) -> dict[str, ServerState]:
        reply = await self._command(f"show servers state {self.backend}")
        lines = [line for line in reply.splitlines() if line.strip()]
        header = next((line for line in lines if line.startswith("#")), None)
        if header is None:
            raise TargetError(
                f"haproxy did not list the servers of backend {self.backend!r}: {reply.strip()!r}",
                hint=f"check that backend {self.backend!r} exists in the HAProxy configuration",
            )
        names = header.lstrip("#").split()
        try:
            cols = {key: names.index(key) for key in (
                "be_name", "srv_name", "srv_op_state", "srv_admin_state", "srv_uweight",
                "srv_iweight")}
        except ValueError as e:
            raise TargetError(
                f"unexpected `show servers state` header from haproxy: {header!r}",
                hint="this HAProxy version's state format is not supported (needs 1.6 or later)",
            ) from e
        found: dict[str, ServerState] = {}
        for line in lines:
            if line.startswith("#") or not line[0].isdigit() or " " not in line:
                continue
            fields = line.split()
            if len(fields) < len(names) or fields[cols["be_name"]] != self.backend:
                continue
            try:
                found[fields[cols["srv_name"]]] = ServerState(
                    name=fields[cols["srv_name"]],
                    weight=int(fields[cols["srv_uweight"]]),
                    initial_weight=int(fields[cols["srv_iweight"]]),
                    admin_state=int(fields[cols["srv_admin_state"]]),
                    op_state=int(fields[cols["srv_op_state"]]),
                )
            except ValueError:
                continue
        out: dict[str, ServerState] = {}
        for role, name in self.servers.items():
            if name not in found:
                known = ", ".join(sorted(found)) or "none"
                raise TargetError(
                    f"haproxy backend {self.backend!r} has no server {name!r} "
                    f"(servers.{role}); it has: {known}",
                    hint="servers.stable and servers.canary (and servers.baseline) must name servers of that backend",
                )
            out[role] = found[name]
        return out

    # -- the socket ------------------------------------------------------------------------

    def _ref(self, role: str) -> str:
        return f"{self.backend}/{self.servers[role]}"

    @staticmethod
    def _order(before: Mapping[str, ServerState], want: Mapping[str, int]) -> list[str]:
        """The order to set the servers in: every weight that rises before any that falls. Meanwhile the
        total never drops to 0 (the new weights add up to the scale) and no server's share exceeds the
        larger of its old and its new one."""
        return sorted(want, key=lambda role: want[role] <= before[role].weight)

    async def _set(self, command: str) -> None:
        reply = await self._command(command)
        if reply.strip():
            hint = "check the backend and server names against the HAProxy configuration"
            if "permission denied" in reply.lower():
                hint = (f"the socket is not at admin level: use `stats socket {self.socket} "
                        "level admin` in HAProxy's global section")
            elif "static" in reply.lower():
                hint = f"use a dynamic algorithm (balance roundrobin) in backend {self.backend}"
            raise TargetError(f"haproxy refused `{command}`: {reply.strip()}", hint=hint)

    async def _command(self, command: str) -> str:
        hint = (f"is HAProxy running with `stats socket {self.socket} level admin` in its global "
                "section, and may this user open the socket?")
        try:
            async with asyncio.timeout(self.timeout_s):
                reader, writer = await asyncio.open_unix_connection(self.socket, limit=_READ_LIMIT)
                try:
                    writer.write(command.encode() + b"\n")
                    await writer.drain()
                    data = await reader.read(_READ_LIMIT)
                    chunks = [data]
                    while data:
                        data = await reader.read(_READ_LIMIT)
                        chunks.append(data)
                finally:
                    writer.close()
                    try:
                        await writer.wait_closed()
                    except OSError:
                        pass
        except TimeoutError as e:
            raise TargetError(
                f"haproxy's admin socket {self.socket} did not answer `{command}` within "
                f"{self.timeout_s:g} s", hint=hint) from e
        except FileNotFoundError as e:
            raise TargetError(f"haproxy's admin socket {self.socket} does not exist", hint=hint) from e
        except ConnectionRefusedError as e:
            raise TargetError(
                f"haproxy's admin socket {self.socket} refused the connection (HAProxy is not "
                "running, or no longer listens there)", hint=hint) from e
        except PermissionError as e:
            raise TargetError(f"no permission to open haproxy's admin socket {self.socket}",
                              hint=hint) from e
        except OSError as e:
            what = errno.errorcode.get(e.errno or 0, "") or type(e).__name__
            raise TargetError(
                f"cannot talk to haproxy's admin socket {self.socket}: {e.strerror or e} ({what})",
                hint=hint) from e
        return b"".join(chunks).decode("utf-8", "replace")
