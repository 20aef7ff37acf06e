"""The last lines of bench/submissions.py: per-round ratios, targets, and the medians.

Imported by bench/submissions.py (run it, not this module).
"""

import math
from collections.abc import Callable

from bench.submissions_servers import Load

TARGET_RATIO, TARGET_P99_MS, TARGET_KIOSK_KB = 0.7, 50.0, 150.0


def median(values: list[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def report(
    measured: dict[str, list[Load]],
    kiosk_kb: float,
    memory: list[float],
    *,
    tenants: int,
    rounds: int,
    shared_buffers_mb: float,
) -> None:
    """The per-round figures, the targets, and the last line of medians."""
    # Each round's runs are a minute or two apart at most: each ratio is taken per round, then
    # the median, so one disturbed run moves the figure less than a ratio of averages would.
    bare = measured["baseline"]

    def per_round(phase: str, figure: Callable[[Load, Load], float]) -> float:
        """The median over the rounds of ``figure(phase's run, baseline's run)``."""
        if phase not in measured:
            return math.nan
        return median(
            [figure(ours, base) for ours, base in zip(measured[phase], bare, strict=True)]
        )

    def ratio(phase: str) -> float:
        return per_round(
            phase, lambda ours, base: ours.requests_per_second / base.requests_per_second
        )

    def p99(phase: str) -> float:
        return median([load.p99_ms for load in measured[phase]]) if phase in measured else math.nan

    def cpu(phase: str) -> float:
        return per_round(
            phase, lambda ours, base: base.cpu_ms_per_request / ours.cpu_ms_per_request
        )

    def rps(phase: str) -> float:
        if phase not in measured:
            return math.nan
        return median([load.requests_per_second for load in measured[phase]])

    for phase in (name for name in measured if name != "baseline"):
        runs = zip(measured[phase], bare, strict=True)
        print(
            f"rounds {phase}: "
            + " ".join(
                f"{ours.requests_per_second / base.requests_per_second:.2f}"
                f"(cpu {base.cpu_ms_per_request / ours.cpu_ms_per_request:.2f})"
                for ours, base in runs
            )
        )
    checks: dict[str, bool] = {}
    for phase in (name for name in measured if name != "baseline"):
        checks[f"ratio_{phase}>={TARGET_RATIO}"] = ratio(phase) >= TARGET_RATIO
        checks[f"p99_{phase}<{TARGET_P99_MS:.0f}ms"] = p99(phase) < TARGET_P99_MS
    checks[f"kiosk<={TARGET_KIOSK_KB:.0f}kB"] = (
        not math.isnan(kiosk_kb)
    ) and kiosk_kb <= TARGET_KIOSK_KB
    print(
        "targets: " + " ".join(f"{k}:{'ok' if ok else 'MISSED'}" for k, ok in checks.items()),
        f"(baseline p99 {p99('baseline'):.1f} ms)",
    )
    if memory:
        print("backend RssAnon MB after the tenants phase: " + " ".join(f"{m:.1f}" for m in memory))
    print(
        f"ratio={ratio('project'):.2f} ratio_1000_tenants={ratio('tenants'):.2f} "
        f"ratio_with_destination={ratio('destination'):.2f} "
        f"project_p99_ms={p99('project'):.1f} p99_1000_tenants_ms={p99('tenants'):.1f} "
        f"kiosk_first_load_kb={kiosk_kb:.1f} p99_with_destination_ms={p99('destination'):.1f} "
        f"project_rps={rps('project'):.0f} tenants_rps={rps('tenants'):.0f} "
        f"destination_rps={rps('destination'):.0f} baseline_rps={rps('baseline'):.0f} "
        f"cpu_ratio={cpu('project'):.2f} cpu_ratio_1000_tenants={cpu('tenants'):.2f} "
        f"cpu_ratio_with_destination={cpu('destination'):.2f} "
        f"backend_rss_mb_max={max(memory, default=math.nan):.1f} tenants={tenants} "
        f"shared_buffers_mb={shared_buffers_mb:.0f} rounds={rounds}"
    )
