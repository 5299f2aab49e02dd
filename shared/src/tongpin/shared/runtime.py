"""One service's wiring: database, broker, publisher, outbox relay, consumer and dead-letter keeper.

Built by a service's ``create_app(settings)``, started in the app's lifespan; nothing connects at
import time. Tests build the same runtime against real servers.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Annotated, Any

import aio_pika
from aio_pika.abc import AbstractRobustConnection
from aio_pika.exceptions import AMQPError
from fastapi import APIRouter, Depends, FastAPI, Query, Request
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from tongpin.shared import clock as business_clock
from tongpin.shared import tracing
from tongpin.shared.auth import Roles, TokenVerifier
from tongpin.shared.clock import Clock, FileClock
from tongpin.shared.edge import MAX_OFFSET, UnstorableInputGuard
from tongpin.shared.envelope import child_traceparent, new_traceparent
from tongpin.shared.health import health_router
from tongpin.shared.logging import bind_request_ids, configure_logging, get_logger
from tongpin.shared.messaging.consumer import EventConsumer, Handler, OwnInbox
from tongpin.shared.messaging.deadletters import (
    DEAD_LETTER_COLLECTION,
    DEAD_LETTER_INDEXES,
    DeadLetterKeeper,
    list_dead_letters,
    replay_dead_letter,
)
from tongpin.shared.messaging.inbox import INBOX_COLLECTION, Inbox
from tongpin.shared.messaging.outbox import OUTBOX_INDEX, OutboxRelay, stages_events
from tongpin.shared.messaging.publisher import Publisher
from tongpin.shared.messaging.topology import Names, declare_exchanges
from tongpin.shared.metrics import http_metrics_middleware, metrics_router
from tongpin.shared.mongo import (
    IndexPlan,
    SerialisedDatabase,
    ensure_indexes,
    is_ferretdb,
    make_client,
    service_database,
)
from tongpin.shared.openapi import document_security
from tongpin.shared.problems import NotFound, Unavailable, install_problem_handlers
from tongpin.shared.settings import ServiceSettings
from tongpin.shared.standing import STAFF_STANDING_COLLECTION, StaffStandingStore

log = get_logger(__name__)

_admin = Depends(Roles("admin"))

HandlerFactory = Callable[["ServiceRuntime"], Mapping[str, Handler]]


# How long a failed start may take to close what it opened before the process exits anyway.
ABANDON_SECONDS = 10.0

class ServiceRuntime:
    """Everything a service holds for its lifetime; handlers receive what they need from it."""

    def __init__(
        self,
        settings: ServiceSettings,
        *,
        indexes: IndexPlan,
        outbox_collections: Sequence[str],
        handlers: HandlerFactory | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.settings = settings
        # Business time (tongpin.shared.clock): injected, else the file clock the settings name, else real time.
        self.clock: Clock = clock or (FileClock(settings.clock_file) if settings.clock_file else business_clock.SYSTEM)
        self.names = Names(exchange=settings.exchange, service=settings.service_name, prefix=settings.queue_prefix)
        self.client: AsyncMongoClient[Any] = make_client(settings)
        self.db: AsyncDatabase[Any] = service_database(self.client, settings.database_name)
        self._indexes = {
            **indexes,
            **{name: [*indexes.get(name, ()), OUTBOX_INDEX] for name in outbox_collections},
            DEAD_LETTER_COLLECTION: DEAD_LETTER_INDEXES,
        }
        self._outbox_collections = list(outbox_collections)
        self._handler_factory = handlers
        self.connection: AbstractRobustConnection | None = None
        self.publisher: Publisher | None = None
        self.relay: OutboxRelay | None = None
        self.consumer: EventConsumer | None = None
        self.keeper: DeadLetterKeeper | None = None
        self._background: list[asyncio.Task[Any]] = []
        self.extras: dict[str, Any] = {}
        # Called when the service stops, after it has stopped taking events (workers a service keeps itself).
        self.on_stop: list[Callable[[], Awaitable[None]]] = []
        # Named reports /readyz shows beside its checks: what a service runs on, and whether it is degraded.
        self.reports: dict[str, Callable[[], dict[str, Any]]] = {}
        # Fed by each service's staff.updated consumer; read by every authenticated request.
        self.staff_standing = StaffStandingStore(self.db[STAFF_STANDING_COLLECTION])
        # None unless traces are configured (tongpin.shared.tracing); then every span goes through these.
        self.tracer_provider = tracing.tracer_provider(settings)
        self.tracer = tracing.tracer_of(self.tracer_provider)

    def broker_connected(self) -> bool:
        return self.connection is not None and self.connection.connected.is_set() and not self.connection.is_closed

    def notify_outbox(self) -> None:
        """Called after a write that staged events, so they go out now rather than at the next poll."""
        if self.relay is not None:
            self.relay.notify()

    async def start(self) -> None:
        await ensure_indexes(self.db, self._indexes)
        if isinstance(self.db, SerialisedDatabase):
            self.db.ids_one_by_one = await is_ferretdb(self.db)
        self.connection = await aio_pika.connect_robust(
            self.settings.amqp_url.get_secret_value(),
            reconnect_interval=self.settings.reconnect_seconds,
            client_properties={"connection_name": f"tongpin-{self.settings.service_name}"},
        )
        setup = await self.connection.channel()
        await declare_exchanges(setup, names=self.names)
        await setup.close()
        self.publisher = await Publisher.open(
            connection=self.connection, exchange_name=self.names.exchange, service=self.settings.service_name,
            tracer=self.tracer,
        )
        if self._outbox_collections:
            self.relay = relay = OutboxRelay(
                database=self.db, collections=self._outbox_collections, publisher=self.publisher,
                poll_seconds=self.settings.outbox_poll_seconds,
            )
            if isinstance(self.db, SerialisedDatabase):
                # The relay searches a collection as soon as a write stages events in it, and only then.
                def staged(collection: str, writes: tuple[Any, ...]) -> None:
                    if any(stages_events(write) for write in writes):
                        relay.staged(collection)

                self.db.write_observer = staged
            relay.start()
        handlers = {key: self._with_clock(handler) for key, handler in
                    (self._handler_factory(self) if self._handler_factory else {}).items()}
        if handlers:
            self.consumer = EventConsumer(
                connection=self.connection, names=self.names, handlers=handlers,
                inbox=Inbox(self.db[INBOX_COLLECTION]), retry_delays=self.settings.retry_delays,
                delivery_limit=self.settings.delivery_limit, prefetch=self.settings.prefetch,
                on_handled=self.notify_outbox,
            )
            await self.consumer.start()
            self.keeper = DeadLetterKeeper(
                connection=self.connection, names=self.names, collection=self.db[DEAD_LETTER_COLLECTION]
            )
            await self.keeper.start()
        log.info("service.started", database=self.settings.database_name, queue=self.names.queue,
                 handlers=sorted(handlers))

    def _with_clock(self, handler: Handler) -> Handler:
        """The handler, run with this runtime's clock bound (and in a consumer span when tracing)."""
        clock, tracer = self.clock, self.tracer

        async def run(event: Any, data: Any) -> None:
            with business_clock.using(clock):
                await handler(event, data)

        if tracer is None:
            # A handler that keeps its own inbox entry stays one for the consumer.
            return OwnInbox(run) if isinstance(handler, OwnInbox) else run
        traced_by = tracer

        async def run_traced(event: Any, data: Any) -> None:
            with business_clock.using(clock), tracing.handling(traced_by, event):
                await handler(event, data)

        return OwnInbox(run_traced) if isinstance(handler, OwnInbox) else run_traced

    def spawn(self, coro: Coroutine[Any, Any, Any], *, name: str) -> None:
        """Run a background loop for the service's lifetime (timers, delivery workers), on this runtime's clock."""
        context = contextvars.copy_context()
        context.run(business_clock.bind, self.clock)
        task = asyncio.get_running_loop().create_task(coro, name=name, context=context)
        self._background.append(task)

    async def abandon(self) -> None:
        """Close what a failed start opened, within a bounded time, without raising."""
        try:
            async with asyncio.timeout(ABANDON_SECONDS):
                await self.stop()
        except Exception as exc:  # the start's own error is the one to report
            log.warning("service.start_abandoned", error=repr(exc)[:300])
            if self.connection is not None and not self.connection.is_closed:
                # Stopping did not get as far as the broker connection: close it alone (this ends its
                # reconnecting), bounded again.
                with contextlib.suppress(Exception):
                    async with asyncio.timeout(ABANDON_SECONDS):
                        await self.connection.close()

    async def stop(self) -> None:
        for task in self._background:
            task.cancel()
        for task in self._background:
            try:
                await task
            except (asyncio.CancelledError, Exception):  # noqa: S110 - shutting down
                pass
        self._background.clear()
        if self.consumer:
            await self.consumer.stop()
        if self.keeper:
            await self.keeper.stop()
        for stop in self.on_stop:
            await stop()
        self.on_stop.clear()
        if self.relay:
            await self.relay.stop()
        if self.connection:
            await self.connection.close()
        await self.client.close()
        if self.tracer_provider is not None:
            # Spans still queued for export go out now (bounded: a collector that is down costs 2 s at most).
            await asyncio.to_thread(self.tracer_provider.force_flush, 2000)
        log.info("service.stopped")


def ops_router() -> APIRouter:
    """Dead letters: list and replay (admins)."""
    router = APIRouter(prefix="/ops", tags=["ops"])

    @router.get("/dead-letters", summary="List dead letters")
    async def dead_letters(
        request: Request, limit: Annotated[int, Query(ge=1, le=200)] = 50,
        offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0, include_replayed: bool = False,
        _: Any = _admin,
    ) -> dict[str, Any]:
        runtime: ServiceRuntime = request.app.state.runtime
        docs = await list_dead_letters(runtime.db[DEAD_LETTER_COLLECTION], limit=limit, skip=offset,
                                       include_replayed=include_replayed)
        return {"items": [_dead_letter_view(d) for d in docs], "limit": limit, "offset": offset}

    @router.post("/dead-letters/{dead_letter_id}/replay", summary="Replay one dead letter")
    async def replay(request: Request, dead_letter_id: str, _: Any = _admin) -> dict[str, Any]:
        runtime: ServiceRuntime = request.app.state.runtime
        retry_after = runtime.settings.retry_after_seconds
        if runtime.connection is None or not runtime.broker_connected():
            raise Unavailable("broker", retry_after=retry_after)
        try:
            async with asyncio.timeout(5):
                doc = await replay_dead_letter(
                    runtime.db[DEAD_LETTER_COLLECTION], connection=runtime.connection, names=runtime.names,
                    dead_letter_id=dead_letter_id)
        except (TimeoutError, AMQPError) as exc:
            log.warning("ops.replay_failed", error=repr(exc)[:300])
            raise Unavailable("broker", retry_after=retry_after) from exc
        if doc is None:
            raise NotFound("dead letter", dead_letter_id)
        return _dead_letter_view(doc)

    return router


def _dead_letter_view(doc: dict[str, Any]) -> dict[str, Any]:
    return {k: doc.get(k) for k in ("_id", "message_id", "event_id", "reason", "error", "routing_key", "parked_at",
                                    "replayed_at", "replay_count")} | {"id": doc["_id"]}


def create_service_app(
    runtime: ServiceRuntime,
    *,
    title: str,
    routers: Sequence[APIRouter] = (),
    description: str = "",
    on_startup: Sequence[Callable[[ServiceRuntime], Awaitable[None]]] = (),
) -> FastAPI:
    """The FastAPI app of one service: problems, logging, health, metrics, ops, and its routers."""
    settings = runtime.settings
    configure_logging(service=settings.service_name, level=settings.log_level, json=settings.log_json)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        try:
            await runtime.start()
            for hook in on_startup:
                await hook(runtime)
        except BaseException:
            # A start that fails half-way (the broker stopping while queues are declared, the database gone
            # while a hook reads it) closes what it opened, so the process exits and its supervisor starts
            # it again: a broker connection left open keeps reconnecting and holds the process alive,
            # serving nothing.
            await runtime.abandon()
            raise
        try:
            yield
        finally:
            await runtime.stop()

    app = FastAPI(title=title, description=description, version="0.1.0", lifespan=lifespan)
    app.state.runtime = runtime
    app.state.token_verifier = TokenVerifier(settings)
    app.state.staff_standing = runtime.staff_standing
    install_problem_handlers(app, retry_after=settings.retry_after_seconds)
    # Innermost of the middlewares, so a refused request still carries its correlation id and is counted.
    app.add_middleware(UnstorableInputGuard)

    @app.middleware("http")
    async def bind_ids(request: Request, call_next):
        # The request's server span when tracing; else a traceparent made up for the logs and the events.
        incoming = request.headers.get("traceparent")
        traceparent = tracing.current_traceparent() or (child_traceparent(incoming) if incoming else new_traceparent())
        correlation_id = request.headers.get("x-correlation-id") or traceparent.split("-")[1]
        bind_request_ids(correlation_id=correlation_id, traceparent=traceparent, service=settings.service_name)
        request.state.correlation_id = correlation_id
        request.state.traceparent = traceparent
        with business_clock.using(runtime.clock):
            response = await call_next(request)
        response.headers["x-correlation-id"] = correlation_id
        if request.url.path.startswith(("/healthz", "/readyz", "/metrics")) is False:
            response.headers.setdefault("cache-control", "no-store")
        return response

    app.middleware("http")(http_metrics_middleware(settings.service_name))
    if settings.trusted_proxies:
        # Outermost, so every part of the app sees the client the trusted proxy saw.
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=list(settings.trusted_proxies))
    if runtime.tracer_provider is not None:
        # Outermost: a server span for every request but probes and scrapes, on the service's own provider.
        from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

        FastAPIInstrumentor.instrument_app(app, tracer_provider=runtime.tracer_provider,
                                           excluded_urls=tracing.UNTRACED_URLS)
    app.include_router(health_router())
    app.include_router(metrics_router())
    app.include_router(ops_router())
    for router in routers:
        app.include_router(router)
    document_security(app)
    return app
