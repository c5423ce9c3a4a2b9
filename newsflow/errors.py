"""The small exception tree every layer raises from (after httpx's).

Each error names what went wrong in one line; the CLI prints ``ErrorName: message`` and exits
non-zero instead of a traceback. Errors that describe bad *data* (a feed, a message) are also
carried as data — in a feed's health record or on the dead-letter topic — so the rest goes on.
"""

from __future__ import annotations


class NewsflowError(Exception):
    """Base of every error newsflow raises on purpose."""


# --- configuration and local infrastructure ---
class ConfigError(NewsflowError):
    """A setting is missing or contradictory."""


class InfraError(NewsflowError):
    """Local infrastructure could not be set up or started."""


class MissingToolError(InfraError):
    """A program newsflow needs (java, mvn, pg_ctl, ...) is not installed."""


class PortInUseError(InfraError):
    """A port newsflow wants to listen on is taken by another process."""


class ServiceNotReadyError(InfraError):
    """A service was started but did not become ready in time."""


# --- run-time connectivity ---
class BrokerUnavailableError(NewsflowError):
    """The Kafka broker cannot be reached."""


class StoreUnavailableError(NewsflowError):
    """The database cannot be reached."""


class StoreNotFoundError(StoreUnavailableError):
    """A read found no store where the settings point (read commands never create one)."""


# --- bad input on the command line ---
class InvalidTimeError(NewsflowError):
    """A time option is neither ISO-8601 nor a relative form such as 24h, 2d or yesterday."""


# --- bad data ---
class RecordError(NewsflowError):
    """A Kafka message does not match its contract (not JSON, wrong schema/version, invalid field)."""


class FeedError(NewsflowError):
    """Base of everything that can go wrong with one feed; recorded in its health, never fatal to others."""


class UnknownFeed(FeedError):
    """No feed with that name is registered."""


class ModelLoadError(NewsflowError):
    """The embedding model cannot be loaded (offline, wrong name or path)."""


class ModelExportError(ModelLoadError):
    """The embedding model's ONNX export cannot be built, is corrupt, or does not reproduce the model."""


class TopicNotFoundError(NewsflowError):
    """No topic has the requested id (the API answers 404, the CLI exits 1)."""


class SilenceError(NewsflowError):
    """A silence request is invalid: no matcher, a bad duration or end time (the API answers 422)."""


class SilenceNotFoundError(NewsflowError):
    """No silence has the requested id (the API answers 404, the CLI exits 1)."""


class AlertDeliveryError(NewsflowError):
    """An alert notification could not be delivered to a sink (recorded as failed, never fatal to other sinks)."""


# --- dead letters ---
class DeadLetterNotFoundError(NewsflowError):
    """A dead letter asked for by position is not on the dead-letter topic, or a replay cannot be recorded."""


# --- optional models ---
class ModelInstallError(NewsflowError):
    """An optional embedding model could not be downloaded or reassembled (nothing was installed)."""


class ModelIntegrityError(ModelInstallError):
    """An optional model's weights do not match their pinned SHA-256 or size (nothing was installed)."""
