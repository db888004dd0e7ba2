"""Background jobs of supervision, run by django-q's scheduler (see migration 0002_schedules) and also
callable as management commands. Each is idempotent: running it twice does no more than running it once."""


def run_monthly_rules() -> int:
    """Run every data rule over all the data (F-30; monthly and weekly); returns the number of new
    findings."""
    from .rules import run_rules

    return run_rules("系统").new_findings


def run_daily_rules() -> int:
    """Run every data rule incrementally (the task rules on the tasks changed since their last run, the
    others in full); returns the number of new findings."""
    from .rules import run_rules

    return run_rules("系统", incremental=True).new_findings


def execute_rule_run(run_id: int) -> int:
    """A supervisor's "run now", done by the worker (`rules.queue_run`); returns the new findings."""
    from .models import RuleRun
    from .rules import execute_run

    return execute_run(RuleRun.objects.select_related("triggered_by").get(pk=run_id)).new_findings


def send_deadline_reminders() -> int:
    """Remind of the three steps' deadlines falling due and flag the missed ones (F-32); returns how many
    reminders were sent."""
    from .steps import send_reminders

    return send_reminders()


def commit_quarterly_sampling() -> int:
    """Commit each district's sampling round for the quarter (F-31); a supervisor reveals it. Returns how
    many rounds were committed."""
    from .sampling import commit_quarterly_rounds

    return len(commit_quarterly_rounds())


def send_guidance_reminders() -> int:
    """Remind of guidance opinions falling due one month after their problem was marked systemic (F-37), and
    flag the missed ones; returns how many reminders were sent."""
    from .guidance import send_reminders

    return send_reminders()


def record_sampling_shortfalls() -> int:
    """Find the quarter's sampling that fell short (round not committed or not revealed in time, drawn bodies
    without a review at the quarter's end) and tell the district's supervisors; returns how many new."""
    from .sampling import record_shortfalls

    return len(record_shortfalls())
