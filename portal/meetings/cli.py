"""Command-line commands: `flask meetings record-events` and `flask retention purge`."""

from __future__ import annotations

import logging
import signal
import threading

import click
from flask import current_app
from flask.cli import AppGroup

from portal.meetings.recorder import EventRecorder, recorder_redis
from portal.meetings.retention import purge_expired

logger = logging.getLogger(__name__)

meetings_cli = AppGroup("meetings", help="Meeting records.")
retention_cli = AppGroup("retention", help="Deletion of data past its retention period.")


def _configure_logging() -> None:
    if not logging.getLogger().handlers:
        logging.basicConfig(
            level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s"
        )


@meetings_cli.command("record-events")
@click.option("--once", is_flag=True, help="Record what is pending, sweep, then exit.")
@click.option("--consumer", default=None, help="Consumer name in the group (default host-pid).")
def record_events(once: bool, consumer: str | None) -> None:
    """Record meetings from the SFU workers' events in Redis (runs until SIGTERM/SIGINT)."""
    _configure_logging()
    client = recorder_redis(current_app.config["REDIS_URL"])
    recorder = EventRecorder(client, current_app.config["REDIS_KEY_PREFIX"], consumer)
    try:
        if once:
            stats = recorder.run_once()
        else:
            stop = threading.Event()

            def request_stop(signum, frame) -> None:
                logger.info("signal %d: stopping after the current batch", signum)
                stop.set()

            for signum in (signal.SIGTERM, signal.SIGINT):
                signal.signal(signum, request_stop)
            logger.info("recording meetings as consumer %s", recorder.consumer)
            stats = recorder.run(stop.is_set)
    finally:
        client.close()
    click.echo(
        f"{stats.processed} events recorded, {stats.skipped} skipped, "
        f"{stats.swept} meetings of stopped workers closed"
    )


@retention_cli.command("purge")
@click.option("--dry-run", is_flag=True, help="Count what would be deleted, delete nothing.")
def purge(dry_run: bool) -> None:
    """Delete meeting records and audit events past their retention (docs/retention.md)."""
    _configure_logging()
    report = purge_expired(dry_run=dry_run)
    verb = "would be deleted" if dry_run else "deleted"
    for name, counts in report.by_tenant.items():
        click.echo(f"{name or '(platform)'}: {_described(counts)} {verb}")
    click.echo(f"total: {_described(report.total)} {verb}")


def _described(counts) -> str:
    return (
        f"{counts.meetings} meetings, {counts.attendances} attendances, "
        f"{counts.audit_events} audit events, {counts.invitations} invitations, "
        f"{counts.accounts} accounts, {counts.rooms} rooms"
    )
