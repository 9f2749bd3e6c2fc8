"""What a venue's failure is to liqheat. ccxt's exception classes end inside :mod:`liqheat.sources`:
everything else catches these, so no caller needs ccxt's hierarchy (or its class names) to decide what to do.

Not :class:`~liqheat.model.DomainError`: that one says a value the user gave is wrong, which trying again
cannot fix and the API answers with a 4xx; a venue that times out or refuses a key is neither. Callers that
keep going after bad input (the follower's poller) must not swallow a revoked key as if it were one.
"""

from __future__ import annotations


class VenueError(Exception):
    """A venue call failed and retrying it here will not help (a refused key, a malformed answer, or
    retries used up). The message names the venue, the call and the reason."""

    def __init__(self, venue: str, call: str, reason: str) -> None:
        super().__init__(f"{venue} {call}: {reason}")
        self.venue, self.call, self.reason = venue, call, reason


class RetryableVenueError(VenueError):
    """A failure that passes with time (rate limit, timeout, dropped connection): a follower reconnects or
    polls again, and a rerun of ``liqheat fetch`` resumes."""
