# Common helpers for scripts/*: sourced, not run.
repo_root() { cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd; }
jobs_count() { local n; n=$(nproc 2>/dev/null || echo 2); echo "$n"; }
# configure+build a preset; extra args go to the configure step.
build_preset() {
  local preset=$1; shift
  cmake --preset "$preset" "$@" >/dev/null
  cmake --build --preset "$preset" -j "$(jobs_count)"
}
