"""The `launchdeck` command: validate, run, demo, approve, status, why, evidence, keys, sample-app.

Every expected failure is a LaunchdeckError printed as one message with a hint, never a traceback.
Exit status: 0 promoted, 3 rolled back, 4 held or refused, 1 a fault, 2 bad input.
"""

from __future__ import annotations

import asyncio
import json
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from launchdeck import evidence
from launchdeck.errors import LaunchdeckError, UsageError
from launchdeck.store.repo import DEFAULT_URL

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Run release runbooks: move traffic, judge the canary, ask people, tell everyone, keep proof.")
keys_app = typer.Typer(no_args_is_help=True, help="Signing keys for evidence.")
evidence_app = typer.Typer(no_args_is_help=True, help="Signed evidence bundles.")
audit_app = typer.Typer(no_args_is_help=True, help="The tamper-evident decision log.")
app.add_typer(keys_app, name="keys")
app.add_typer(evidence_app, name="evidence")
app.add_typer(audit_app, name="audit")
bench_app = typer.Typer(no_args_is_help=True, help="Benchmarks that print a table.")
app.add_typer(bench_app, name="bench")

EXIT_CODES = {"promoted": 0, "rolled_back": 3, "held": 4, "refused": 4, "aborted": 1}
DbOption = Annotated[str, typer.Option("--db", envvar="LAUNCHDECK_DB", help="SQLAlchemy URL of the release store.")]


class Output(str, Enum):
    text = "text"
    json = "json"


class Scenario(str, Enum):
    bad = "bad"
    good = "good"


class Stack(str, Enum):
    haproxy = "haproxy"
    nginx = "nginx"


class Choice(str, Enum):
    rollback = "rollback"
    continue_ = "continue"


@app.command()
def validate(plan: Annotated[Path, typer.Argument(help="Plan file (YAML).")]) -> None:
    """Check a plan; report every problem at once with file:line and what to write instead."""
    from launchdeck.plan import load_plan

    loaded = load_plan(plan)
    kind = "release train" if loaded.is_train else "release"
    extra = f" with {len(loaded.services)} services" if loaded.is_train else ""
    typer.echo(f"{plan}: valid {kind} '{loaded.name}'{extra} ({loaded.digest[:19]}…)")


@app.command()
def schema() -> None:
    """Print the plan files' JSON Schema (for editors)."""
    from launchdeck.plan import json_schema

    typer.echo(json.dumps(json_schema(), indent=2))


@app.command()
def run(plan: Annotated[Path, typer.Argument(help="Plan file (YAML).")],
        time_scale: Annotated[float, typer.Option("--time-scale", min=0.001, help="Make plan time N times faster.")] = 1.0,
        output: Annotated[Output, typer.Option("--output", help="json: print the summary object last on stdout.")] = Output.text,
        approvals: Annotated[Optional[Path], typer.Option("--approvals", help="Sign-offs recorded ahead (YAML list).")] = None,
        db: DbOption = DEFAULT_URL,
        fresh: Annotated[bool, typer.Option("--fresh", help="Start over even if an unfinished run exists.")] = False,
        seed: Annotated[Optional[int], typer.Option("--seed", help="Seed the local fleet's randomness.")] = None,
        start_at: Annotated[Optional[str], typer.Option("--start-at", help="Planned start (ISO 8601); checklists are due relative to it.")] = None,
        follow: Annotated[bool, typer.Option("--follow", help="Stay on after promotion through the post-launch checkpoints.")] = False) -> None:
    """Run (or resume) a release to its outcome."""
    from launchdeck.controller.runner import RunOptions
    from launchdeck.plan import load_plan

    loaded = load_plan(plan)
    opts = RunOptions(time_scale=time_scale, db_url=db, workdir=Path("."), approvals=approvals, fresh=fresh, seed=seed,
                      start_at=_parse_start(start_at), follow=follow)
    _run_and_report(loaded, opts, output)


@app.command()
def demo(scenario: Annotated[Scenario, typer.Option("--scenario", help="bad: errors 2 minutes in; good: healthy.")] = Scenario.bad,
         output: Annotated[Output, typer.Option("--output")] = Output.text,
         time_scale: Annotated[float, typer.Option("--time-scale", min=1.0)] = 90.0,
         workdir: Annotated[Path, typer.Option("--dir", help="Where the demo writes its files.")] = Path("launchdeck-demo"),
         stack: Annotated[Optional[Stack], typer.Option("--stack", help="Run behind a real HAProxy or nginx, judged from Prometheus.")] = None) -> None:
    """Run the IntelGraph canary on the embedded local fleet (about a minute), or a canary behind a real stack."""
    from launchdeck.controller.runner import RunOptions
    from launchdeck.demo import demo_plan

    workdir.mkdir(parents=True, exist_ok=True)
    opts = RunOptions(time_scale=time_scale if stack is None else min(time_scale, 30.0),
                      db_url=f"sqlite:///{workdir / 'launchdeck.db'}", workdir=workdir, fresh=True)
    if stack is None:
        summary = _run_and_report(demo_plan(scenario.value, workdir), opts, output, exit_at_end=False)
    else:
        summary = _run_stack_demo(stack.value, scenario.value, opts, output)
    log = workdir / "notifications.jsonl"
    where = f"evidence: {summary['evidence']}\nmessages: {log}\nverify:   launchdeck evidence verify {summary['evidence']}"
    typer.echo(where, err=output is Output.json)
    if output is Output.json:
        typer.echo(json.dumps(summary))
    raise typer.Exit(EXIT_CODES.get(summary["outcome"] or "aborted", 1))


def _run_stack_demo(kind: str, scenario: str, opts: Any, output: Output) -> dict[str, Any]:
    from launchdeck.controller.view import PlainView
    from launchdeck.demo.stack import check_programs, run_stack_demo

    check_programs(kind)
    stream = sys.stderr if output is Output.json else sys.stdout
    summary = asyncio.run(run_stack_demo(kind, scenario, opts, PlainView(stream)))
    if output is Output.text:
        typer.echo(f"\n{summary['release']}: {summary['outcome']} at canary weight {summary['finalWeight']:g}% — "
                   f"{summary['reason']}")
    return summary


def _run_and_report(loaded: Any, opts: Any, output: Output, exit_at_end: bool = True) -> dict[str, Any]:
    from launchdeck.controller.runner import run_release
    from launchdeck.controller.train import run_train
    from launchdeck.controller.view import LiveView, PlainView

    stream = sys.stderr if output is Output.json else sys.stdout
    view: Any = None
    try:
        if loaded.is_train:
            summary = asyncio.run(run_train(loaded, opts, lambda name: PlainView(stream, every=10.0, prefix=f"[{name}]")))
        else:
            view = LiveView(stream) if stream.isatty() else PlainView(stream)
            summary = asyncio.run(run_release(loaded, opts, view))
    finally:
        if isinstance(view, LiveView):
            view.close()
    if output is Output.json and exit_at_end:
        typer.echo(json.dumps(summary))
    elif output is Output.text and "services" in summary:
        typer.echo(f"\n{summary['release']}: {summary['outcome']} — {summary['reason']}")
        for s in summary["services"]:
            typer.echo(f"  {s['name']:<20} {s['outcome']:<12} {s['startedAt'] or '-':<26} {s['finishedAt'] or '-'}")
    elif output is Output.text:
        typer.echo(f"\n{summary['release']}: {summary['outcome']} at canary weight {summary['finalWeight']:g}% — "
                   f"{summary['reason']}\nevidence: {summary['evidence']}")
    if exit_at_end:
        raise typer.Exit(EXIT_CODES.get(summary["outcome"] or "aborted", 1))
    return summary


@app.command()
def approve(release: Annotated[str, typer.Argument(help="The release name (metadata.name).")],
            role: Annotated[str, typer.Option("--role", help="The role you sign for.")],
            who: Annotated[str, typer.Option("--as", help="Your name, as listed under roles.")],
            stage: Annotated[Optional[int], typer.Option("--stage", min=1, help="Sign off leaving stage N.")] = None,
            checklist: Annotated[Optional[str], typer.Option("--checklist", help="Sign a checklist (e.g. T-1h).")] = None,
            decision: Annotated[Optional[Choice], typer.Option("--decision", help="Decide an open decision window or hold.")] = None,
            reason: Annotated[str, typer.Option("--reason")] = "",
            db: DbOption = DEFAULT_URL) -> None:
    """Sign off a stage or decide (continue / roll back) while a run waits."""
    from launchdeck.runbook import roles

    if sum(x is not None for x in (stage, decision, checklist)) != 1:
        raise UsageError("give exactly one of --stage N, --checklist NAME or --decision rollback|continue",
                         hint="e.g. launchdeck approve REL --role sre --as sam --stage 1")
    store = _existing_store(db)
    found = store.require(name=release)
    if found.outcome:
        raise UsageError(f"release {release} already ended ({found.outcome}); nothing waits for a decision")
    plan_roles = {r: set(p) for r, p in found.state.get("roles", {}).items()}
    refused = roles.refusal(plan_roles, who, role)
    if refused:
        raise UsageError(f"sign-off refused: {refused}", hint="sign with a role the plan gives you")
    if checklist is not None:
        names = found.state.get("checklists", {})
        if checklist not in names:
            raise UsageError(f"release {release} has no checklist '{checklist}'",
                             hint=f"checklists: {', '.join(names) or 'none'}")
        if role not in names[checklist]:
            raise UsageError(f"checklist {checklist} is not signed by role '{role}'",
                             hint=f"it needs: {', '.join(names[checklist])}")
    store.add_signoff(release_id=found.id, who=who, role=role, stage=stage, checklist=checklist,
                      decision=decision.value if decision else None, reason=reason)
    what = f"stage {stage}" if stage else f"checklist {checklist}" if checklist else f"decision '{decision.value}'" if decision else ""
    typer.echo(f"recorded: {who} ({role}) {what} for {release}")


def _existing_store(db: str) -> Any:
    """The store a run wrote; a command about a release must not create an empty database."""
    from launchdeck.store.repo import Store

    if db.startswith("sqlite:///") and not Path(db.removeprefix("sqlite:///")).exists():
        raise UsageError(f"no launchdeck database at {db.removeprefix('sqlite:///')}",
                         hint="run this where `launchdeck run` ran, or pass the same --db (or LAUNCHDECK_DB)")
    return Store(db)


def _parse_start(text: str | None) -> Any:
    from datetime import UTC, datetime

    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(f"--start-at {text!r} is not an ISO 8601 time", hint="e.g. 2026-11-24T08:15:00+00:00") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


@app.command()
def prepare(plan: Annotated[Path, typer.Argument(help="Plan file (YAML).")],
            start_at: Annotated[Optional[str], typer.Option("--start-at", help="Planned start (ISO 8601).")] = None,
            db: DbOption = DEFAULT_URL) -> None:
    """Register a release before its run, so checklists and go/no-go can be signed ahead."""
    from launchdeck.controller.runner import RunOptions, prepare_release
    from launchdeck.plan import load_plan

    loaded = load_plan(plan)
    release = prepare_release(loaded, RunOptions(db_url=db, start_at=_parse_start(start_at)))
    typer.echo(f"prepared {release.name}; sign checklists with `launchdeck approve {release.name} --checklist NAME "
               f"--role R --as NAME`, see what is missing with `launchdeck checklist {release.name}`")


@app.command()
def checklist(release: Annotated[str, typer.Argument()], db: DbOption = DEFAULT_URL) -> None:
    """Each checklist: when it is due, who signed, who is still missing."""
    from datetime import datetime

    from launchdeck.controller import preflight
    from launchdeck.plan import load_plan

    store = _existing_store(db)
    found = store.require(name=release)
    loaded = load_plan(found.plan_path)
    spec = loaded.doc.spec  # type: ignore[union-attr]
    start = datetime.fromisoformat(found.state.get("plannedStart") or found.state["startedAt"])
    missing_any = False
    for st in preflight.checklist_status(spec, store, found.id, planned_start=start):
        state = "complete" if st.complete else ("DUE, missing " if st.is_due else "missing ") + st.describe_missing()
        signed = ", ".join(f"{role}: {who}" for role, who in st.signed) or "nobody yet"
        typer.echo(f"{st.name:<8} due {st.due_at.isoformat(timespec='minutes')}  {state}\n         signed: {signed}")
        missing_any = missing_any or (st.is_due and not st.complete)
    if missing_any:
        raise typer.Exit(4)


@app.command("go")
def go_(release: Annotated[str, typer.Argument()], who: Annotated[str, typer.Option("--as")],
        reason: Annotated[str, typer.Option("--reason")] = "", db: DbOption = DEFAULT_URL) -> None:
    """Record a GO decision (who, when, why, and the roles they hold in the plan)."""
    _go_decision(release, who, "go", reason, db)


@app.command("no-go")
def no_go(release: Annotated[str, typer.Argument()], who: Annotated[str, typer.Option("--as")],
          reason: Annotated[str, typer.Option("--reason")] = "", db: DbOption = DEFAULT_URL) -> None:
    """Record a NO-GO: a release not started is refused; a running one is rolled back."""
    _go_decision(release, who, "no-go", reason, db)


def _go_decision(release: str, who: str, choice: str, reason: str, db: str) -> None:

    store = _existing_store(db)
    found = store.require(name=release)
    held = sorted(r for r, people in found.state.get("roles", {}).items() if who in people)
    if not held:
        raise UsageError(f"{who} holds no role in {release}'s plan", hint="the go/no-go is decided by the plan's people")
    store.add_signoff(release_id=found.id, who=who, role=",".join(held), decision=choice, reason=reason)
    typer.echo(f"recorded: {choice.upper()} by {who} ({', '.join(held)}) for {release}")


@app.command()
def kill(release: Annotated[str, typer.Argument()], role: Annotated[str, typer.Option("--role")],
         who: Annotated[str, typer.Option("--as")], reason: Annotated[str, typer.Option("--reason")] = "",
         db: DbOption = DEFAULT_URL) -> None:
    """Pull the kill switch: every request to stable now, then the rollback steps."""
    from launchdeck.runbook import roles

    store = _existing_store(db)
    found = store.require(name=release)
    refused = roles.refusal({r: set(p) for r, p in found.state.get("roles", {}).items()}, who, role)
    if refused:
        raise UsageError(f"kill refused: {refused}")
    store.add_signoff(release_id=found.id, who=who, role=role, decision="kill", reason=reason)
    typer.echo(f"kill switch requested by {who} ({role}) for {release}")


@app.command()
def status(release: Annotated[str, typer.Argument()], db: DbOption = DEFAULT_URL) -> None:
    """Where a release is: phase, stage, weight, gates."""

    found = _existing_store(db).require(name=release)
    e = found.state["engine"]
    typer.echo(f"{found.name}: {e['phase']} stage {e['stage'] + 1} weight {e['weight']:g}% "
               f"outcome {found.outcome or '-'} (plan time {found.plan_clock:.0f}s)")
    for name, g in e.get("gates", {}).items():
        typer.echo(f"  {name}: {g['status']} — {g['reason']}")
    if e.get("window"):
        w = e["window"]
        typer.echo(f"  decision window on {w['gate']}: {', '.join(w['authority'])} may decide; default {w['default']}")


@app.command()
def why(release: Annotated[str, typer.Argument()], all_: Annotated[bool, typer.Option("--all", help="Include every evaluation.")] = False,
        db: DbOption = DEFAULT_URL) -> None:
    """The release's decisions in order, each with its reason."""

    store = _existing_store(db)
    found = store.require(name=release)
    for d in store.decisions(release_id=found.id):
        if d.kind == "evaluation" and not all_:
            continue
        typer.echo(f"#{d.seq:<4} t+{d.plan_at:>7.0f}s {d.kind:<18} {d.reason}")


@keys_app.command("generate")
def keys_generate(path: Annotated[Path, typer.Argument(help="Private key path; the public key goes to PATH.pub.")]) -> None:
    """Write an Ed25519 key pair for signing evidence."""
    pub = evidence.generate(path)
    typer.echo(f"private key: {path} (keep it secret)\npublic key:  {pub}")


@evidence_app.command("verify")
def evidence_verify(bundle: Annotated[Path, typer.Argument()],
                    key: Annotated[Optional[Path], typer.Option("--key", help="Trusted public key (PEM).")] = None) -> None:
    """Exit 0 when the bundle is intact and signed; otherwise name what failed."""
    trusted = evidence.load_public(key) if key else None
    result = evidence.verify_bundle(bundle, trusted)
    p = result.predicate
    typer.echo(f"OK {bundle}: signed by {result.key_id}; release {p.get('release')} "
               f"outcome {p.get('summary', {}).get('outcome')}; {len(p.get('decisions', []))} decisions; "
               f"plan {result.subject_name} sha256:{result.subject_digest[:16]}…")


@audit_app.command("verify")
def audit_verify(release: Annotated[str, typer.Argument()], db: DbOption = DEFAULT_URL) -> None:
    """Check the decision log's hash chain for a release."""

    store = _existing_store(db)
    found = store.require(name=release)
    problem = store.verify_chain(release_id=found.id)
    if problem:
        typer.echo(f"FAILED: {problem}", err=True)
        raise typer.Exit(1)
    typer.echo(f"OK: {len(store.decisions(release_id=found.id))} decisions chained intact for {release}")


@bench_app.command("detection")
def bench_detection(quick: Annotated[bool, typer.Option("--quick", help="1,000 A/A runs per traffic level (under 2 minutes).")] = False,
                    output: Annotated[Output, typer.Option("--output")] = Output.text,
                    chart: Annotated[str, typer.Option("--chart", help="Where to write the blast-radius chart (PNG); '' for none.")] = "bench-detection.png",
                    seed: Annotated[int, typer.Option("--seed")] = 1,
                    warmup: Annotated[str, typer.Option("--warmup", help="Run the sequential judge with this analysis.warmup (e.g. 3m).")] = "0s",
                    error_threshold: Annotated[str, typer.Option("--error-threshold", help="The sequential error gate's minimum effect (e.g. +25%).")] = "+0%") -> None:
    """Simulated canaries: false rollbacks, power, delay and blast radius of each detector."""
    from launchdeck.bench import detection

    argv = ["--output", output.value, "--chart", chart, "--seed", str(seed), "--warmup", warmup,
            "--error-threshold", error_threshold] + (["--quick"] if quick else [])
    raise typer.Exit(detection.main(argv))


@app.command("sample-app", context_settings={"allow_extra_args": False})
def sample_app(port: Annotated[int, typer.Option("--port")], version: Annotated[str, typer.Option("--version")],
               error_rate: Annotated[float, typer.Option("--error-rate")] = 0.0,
               latency_median: Annotated[float, typer.Option("--latency-median")] = 40.0,
               latency_p95: Annotated[float, typer.Option("--latency-p95")] = 120.0) -> None:
    """Run the built-in sample service alone (Prometheus metrics on /metrics)."""
    from launchdeck.local import sample_app as sample

    raise typer.Exit(sample.main(["--port", str(port), "--version", version, "--error-rate", str(error_rate),
                                  "--latency-median", str(latency_median), "--latency-p95", str(latency_p95)]))


def main(argv: list[str] | None = None) -> int:
    try:
        code = app(args=argv, standalone_mode=False)
        return code if isinstance(code, int) else 0
    except LaunchdeckError as e:
        print(f"launchdeck: {e.message}", file=sys.stderr)
        if e.hint:
            print(f"  hint: {e.hint}", file=sys.stderr)
        return e.exit_code
    except typer.Exit as e:
        return int(e.exit_code)
    except KeyboardInterrupt:
        print("launchdeck: interrupted; run the same command again to resume", file=sys.stderr)
        return 130
    except Exception as e:  # the command-line library's usage errors and aborts
        code = _library_exit(e)
        if code is None:
            raise
        return code


def _library_exit(e: Exception) -> int | None:
    """Show a usage error raised by typer/click (a wrong flag, a missing argument) and return its
    exit status; None for anything else. Typer >= 0.26 vendors click as ``typer._click`` and no
    longer installs ``click``, so both spellings are recognised."""
    kinds: list[type[Exception]] = []
    aborts: list[type[BaseException]] = [typer.Abort]
    try:
        from typer.exceptions import TyperException

        kinds.append(TyperException)
    except ImportError:  # pragma: no cover - older typer
        pass
    try:
        import click

        kinds.append(click.exceptions.ClickException)
        aborts.append(click.exceptions.Abort)
    except ImportError:
        pass
    if kinds and isinstance(e, tuple(kinds)):
        show = getattr(e, "show", None)
        if callable(show):
            show()
        else:
            print(f"Error: {e}", file=sys.stderr)
        return int(getattr(e, "exit_code", 2))
    if isinstance(e, tuple(aborts)):
        return 1
    return None


if __name__ == "__main__":
    sys.exit(main())
