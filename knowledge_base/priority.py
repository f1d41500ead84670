"""Index builds and publishes run below the citizens' turns in CPU priority.

A full re-index keeps every core busy for minutes (word segmentation workers, the
encoder's training). On a small server that shares its cores with the Rasa and
action servers, citizens' turns would wait behind it. The build is a background job:
it may take a little longer, a citizen's answer may not. So the thread that builds
(and every worker process it forks, which inherits its niceness) is lowered by
``KB_BUILD_NICE`` steps (default 10; 0 leaves it as it is).

On Linux ``setpriority(PRIO_PROCESS, 0, …)`` applies to the calling thread only, so
the admin app lowers the job's thread, not the request handlers beside it.
"""

from __future__ import annotations

import logging
import os

logger = logging.getLogger(__name__)


def lower_for_background_work() -> int:
    """Lower this thread's CPU priority for a build; returns the niceness now in effect."""
    try:
        steps = int(os.environ.get("KB_BUILD_NICE", "10"))
    except ValueError:
        logger.warning("KB_BUILD_NICE is not a number; builds keep their priority")
        steps = 0
    current = os.getpriority(os.PRIO_PROCESS, 0)
    if steps <= 0:
        return current
    target = min(19, current + steps)
    try:
        os.setpriority(os.PRIO_PROCESS, 0, target)
    except OSError as exc:  # never a reason to refuse a publish
        logger.warning("could not lower the build's priority: %s", exc)
        return current
    return target
