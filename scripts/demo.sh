#!/usr/bin/env bash
# `make demo`: the whole GitOps workflow in about a minute, on throwaway repositories under ./demo/.
# The real specs/ are never touched: the demo works on a copy in its own git repository.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT="$(pwd)"
MLSPEC="$ROOT/.venv/bin/mlspec"
PY="$ROOT/.venv/bin/python"
DEMO="$ROOT/demo"
export GIT_AUTHOR_NAME="${GIT_AUTHOR_NAME:-mlspec demo}" GIT_AUTHOR_EMAIL="${GIT_AUTHOR_EMAIL:-demo@localhost}"
export GIT_COMMITTER_NAME="$GIT_AUTHOR_NAME" GIT_COMMITTER_EMAIL="$GIT_AUTHOR_EMAIL"

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }
# A command whose exit 1 is the point of the step (a diff found, drift caught, a hand edit refused).
# Any other code fails the demo: CI runs it (.ci/run), and a crash (3) or usage error (2) must not pass.
expect_fail() {
    printf '$ %s\n' "$*"; set +e; "$@"; local rc=$?; set -e; printf '(exit %d)\n' "$rc"
    [[ $rc -eq 1 ]] || { echo "demo: expected exit 1 from: $*" >&2; exit 1; }
}

rm -rf "$DEMO"
mkdir -p "$DEMO"

step "1. A spec repository (a copy of specs/) and a deployment repository with a bare remote"
mkdir -p "$DEMO/specs-repo"
cp -R specs "$DEMO/specs-repo/specs"
[[ -f mlspec.yaml ]] && cp mlspec.yaml "$DEMO/specs-repo/"
git -C "$DEMO/specs-repo" init -q -b main
git -C "$DEMO/specs-repo" add -A
git -C "$DEMO/specs-repo" commit -q -m "Initial specs"
git init -q --bare -b main "$DEMO/remote.git"
git init -q -b main "$DEMO/deploy"
git -C "$DEMO/deploy" remote add origin "$DEMO/remote.git"
echo "spec repo: demo/specs-repo ($(ls "$DEMO/specs-repo/specs" | wc -l) specs); deployment repo: demo/deploy"

cd "$DEMO/specs-repo"
step "2. Render every example and commit it to the deployment repository, then push"
run "$MLSPEC" commit --repo ../deploy --push
run git -C ../deploy show --stat --format='%h %s%n%n%b' HEAD | sed -n '1,16p'

step "3. Nothing changed: a second commit makes no commit"
run "$MLSPEC" commit --repo ../deploy

step "4. Edit a spec on a branch: the second canary step of fraud-detector goes from 25% to 30% traffic"
git checkout -q -b canary-30
"$PY" - <<'PY'
import pathlib, re
path = pathlib.Path("specs/fraud-detector.yaml")
text = path.read_text()
new = re.sub(r"\{traffic: 25,", "{traffic: 30,", text, count=1)
assert new != text, "canary step not found in specs/fraud-detector.yaml"
path.write_text(new)
PY
git commit -q -am "fraud-detector: canary step 25% -> 30%"
run git --no-pager diff --stat main

step "5. Review it like a pull request: diff against the base branch (rendered in a temporary worktree)"
expect_fail "$MLSPEC" diff --base main --ignore 'metadata.annotations*' --ignore 'metadata.labels*'
step "   ... and the same diff as a Markdown PR comment (first lines)"
set +e; "$MLSPEC" diff --base main --format markdown --ignore 'metadata.annotations*' > "$DEMO/pr-comment.md"; set -e
sed -n '1,12p' "$DEMO/pr-comment.md"
echo "... ($(wc -c < "$DEMO/pr-comment.md") characters in demo/pr-comment.md)"

step "6. Drift before committing: the deployment repository is now outdated"
expect_fail "$MLSPEC" drift --repo ../deploy

step "7. Commit the change (trailers name the spec, digests, versions and data hash)"
run "$MLSPEC" commit --repo ../deploy --push
run git -C ../deploy log -1 --format='%h %s%n%n%(trailers)'

step "8. Someone hand-edits a rendered manifest in the deployment repository"
victim="$("$PY" - <<'PY'
import json
files = json.load(open("../deploy/.mlspec/manifest.json"))["files"]
yaml_files = [p for p, i in sorted(files.items()) if p.endswith(".yaml") and i.get("resources")]
yaml_files.sort(key=lambda p: not any(r.get("kind") == "InferenceService" and "prod" in r.get("namespace", "")
                                      for r in files[p]["resources"]))
print(yaml_files[0] if yaml_files else next(iter(sorted(files)), ""))
PY
)"
[[ -n "$victim" ]] || { echo "demo: the deployment repository has no rendered manifest to hand-edit" >&2; exit 1; }
sed -i 's/minReplicas: \([0-9]*\)$/minReplicas: 9/' "../deploy/$victim"
echo "# hand edit" >> "../deploy/$victim"
git -C ../deploy --no-pager diff --stat
echo "edited demo/deploy/$victim"
expect_fail "$MLSPEC" drift --repo ../deploy
step "9. mlspec commit refuses to overwrite the hand edit (without --force)"
expect_fail "$MLSPEC" commit --repo ../deploy
step "10. The drift can also be reviewed per resource before deciding"
expect_fail "$MLSPEC" diff --against ../deploy
step "11. --force puts the rendered content back"
run "$MLSPEC" commit --repo ../deploy --force
run "$MLSPEC" drift --repo ../deploy

step "Deployment repository history"
run git -C ../deploy log --oneline
run git -C ../remote.git log --oneline -1 main
