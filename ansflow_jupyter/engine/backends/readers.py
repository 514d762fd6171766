"""One event-loop registration for every descriptor the local backend reads."""

from __future__ import annotations

import asyncio
import select
from collections.abc import Callable

Callback = Callable[[], None]


class Readers:
    """Calls a callback when a descriptor is readable, through one epoll of our own that
    the event loop watches.

    Each attempt has three descriptors to watch (two pipes and a pidfd); asyncio's
    `add_reader`/`remove_reader` bookkeeping for them cost more CPU per step than the
    `epoll_ctl` calls themselves. Level-triggered, like the loop: what a callback leaves
    unread is reported again.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self._epoll = select.epoll()  # close-on-exec: no step inherits it
        self._callbacks: dict[int, Callback] = {}
        loop.add_reader(self._epoll.fileno(), self._dispatch)

    def add(self, fd: int, callback: Callback) -> None:
        """Call `callback` whenever `fd` is readable (replaces an earlier one)."""
        if fd not in self._callbacks:
            self._epoll.register(fd, select.EPOLLIN)
        self._callbacks[fd] = callback

    def remove(self, fd: int) -> None:
        """Stop watching `fd` (before closing it)."""
        if self._callbacks.pop(fd, None) is not None:
            self._epoll.unregister(fd)

    def close(self) -> None:
        """Stop watching altogether, once nothing is watched any more."""
        if not self._callbacks and not self._epoll.closed:
            if not self.loop.is_closed():
                self.loop.remove_reader(self._epoll.fileno())
            self._epoll.close()

    def _dispatch(self) -> None:
        ready = [(fd, self._callbacks.get(fd)) for fd, _ in self._epoll.poll(0)]
        for fd, callback in ready:
            # A callback may remove (and close) another descriptor of this batch, and
            # its number may be reused at once: call only what is still registered.
            if callback is None or self._callbacks.get(fd) is not callback:
                continue
            try:
                callback()
            except Exception as exc:  # as the loop does: report, keep serving the others
                self.loop.call_exception_handler(
                    {"message": "Exception in a reader callback", "exception": exc}
                )
