"""Progress bars that know a wall-clock cap (`sft.max_minutes`, `rl.max_minutes`): a run the cap will end
early shows the step it will end near, and an ETA to the cap, instead of the planned steps' hours."""

PROJECT_AFTER = 0.1  # share of the cap that must have run before its rate is trusted


def rate_is_trusted(seconds: float, cap_minutes: float | None) -> bool:
    """Whether `PROJECT_AFTER` of the cap has run, so the rate so far can project where the cap stops a run."""
    return cap_minutes is not None and seconds >= PROJECT_AFTER * cap_minutes * 60


def cap_projection(planned: int, step: int, seconds: float, cap_minutes: float | None) -> int | None:
    """The step the cap will stop a run near at the rate so far, or None: no cap, too early to tell,
    or the planned steps end first."""
    if step == 0 or not rate_is_trusted(seconds, cap_minutes):
        return None
    reach = max(step, round(step / seconds * cap_minutes * 60))
    return reach if reach < planned else None


def bar_total(planned: int, step: int, seconds: float, cap_minutes: float | None) -> int:
    """The total a progress bar should show: the cap's projected stop where it comes first, else `planned`."""
    return cap_projection(planned, step, seconds, cap_minutes) or planned
