# Sourced by scripts/gpu-check and scripts/gpu-paper-speed: options, a summary and one tarball.
#
#   gpu_steps_init NAME "$@"    parses --out DIR and --dry-run (sets $out, $dry, $work, $summary)
#   step NAME TIMEOUT_S CMD...  runs CMD with its output in $work/NAME.log; its status, seconds and
#                               last lines go into the summary; a failure or timeout ends the script
#   step_keep_going NAME ...    the same, but the script goes on (and finish 0 then exits 1)
#   skip_step NAME WHY          a summary row saying the step was skipped, and why
#   install_carried_wheels NAME TIMEOUT_S DIR   a step installing DIR's wheels offline (see below)
#   finish STATUS               writes the summary's details, tars $work into $out, exits STATUS
#
# $out is --out, else $OUT, else results/gpu/<time>; it receives exactly two files:
# NAME-summary.md and NAME.tar.gz (every log and run directory of the steps).
PYTHON=${PYTHON:-python3}
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1

gpu_steps_init() {
    gpu_steps_name=$1
    shift
    dry=0
    out=""
    while [ $# -gt 0 ]; do
        case "$1" in
            --dry-run) dry=1 ;;
            --out) out=${2:?--out needs a folder}; shift ;;
            *) echo "usage: scripts/$gpu_steps_name [--out DIR] [--dry-run]" >&2; exit 2 ;;
        esac
        shift
    done
    out=${out:-${OUT:-results/gpu/$(date -u +%Y%m%d-%H%M%S)}}
    mkdir -p "$out" || exit 2
    out=$(cd "$out" && pwd)
    work=$(mktemp -d)
    trap 'rm -rf "$work" "$work.site"' EXIT
    summary="$out/$gpu_steps_name-summary.md"
    details="$work/details.md"
    : > "$details"
    timeouts_total=0
    failed_steps=0
    [ "$dry" = 1 ] && export TRITON_INTERPRET=1
    {
        echo "# $gpu_steps_name $(date -u +%Y-%m-%dT%H:%M:%SZ)$([ "$dry" = 1 ] && echo ' (dry run: tiny shapes on the CPU)')"
        echo
        echo "git commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD 2>/dev/null || echo ' (uncommitted changes)')"
        echo
        echo "| step | status | seconds | timeout |"
        echo "|---|---|---|---|"
    } > "$summary"
}

step() {
    run_step "$@" || finish 1
}

skip_step() {  # NAME WHY: a row that says the step was skipped and why
    echo "| $1 | skipped: $2 | 0 | 0 |" >> "$summary"
    echo "== $1 skipped: $2"
}

# install_carried_wheels NAME TIMEOUT_S DIR: the cp312 wheels that scripts/build-cuda-wheels made (mamba-ssm,
# causal-conv1d), carried beside the working tree, installed offline into $work.site (outside the tarball) and put
# first on PYTHONPATH, so every later step imports them. A dry run unpacks them the same way for
# Python 3.12 without importing them (the CPU's Python may be another version). No wheels: the
# step is skipped and the summary says so.
install_carried_wheels() {
    local name=$1 limit=$2 dir=$3 wheels
    shopt -s nullglob
    wheels=("$dir"/*.whl)
    shopt -u nullglob
    if [ ${#wheels[@]} -eq 0 ]; then
        skip_step "$name" "no wheels in $dir (scripts/build-cuda-wheels makes them); mamba_ssm and causal_conv1d run only if installed"
        return 0
    fi
    local site="$work.site" target=()
    [ "$dry" = 1 ] && target=(--python-version 3.12 --implementation cp --abi cp312 --platform linux_x86_64 --only-binary :all:)
    step "$name" "$limit" "$PYTHON" -m pip install --no-index --no-deps --no-compile --disable-pip-version-check \
        --target "$site" "${target[@]}" "${wheels[@]}"
    [ "$dry" = 1 ] || export PYTHONPATH="$site:$PYTHONPATH"
    CARRIED_WHEELS=$(for wheel in "${wheels[@]}"; do basename "$wheel"; done | tr '\n' ' ')
    export CARRIED_WHEELS
}

step_keep_going() {
    run_step "$@" || failed_steps=$((failed_steps + 1))
}

run_step() {
    local name=$1 limit=$2 start status seconds verdict=ok
    shift 2
    timeouts_total=$((timeouts_total + limit))
    start=$(date +%s)
    echo "== $name (timeout ${limit}s)"
    timeout "$limit" "$@" > "$work/$name.log" 2>&1
    status=$?
    seconds=$(( $(date +%s) - start ))
    if [ "$status" -eq 124 ]; then verdict=TIMEOUT; elif [ "$status" -ne 0 ]; then verdict="FAILED ($status)"; fi
    echo "| $name | $verdict | $seconds | $limit |" >> "$summary"
    { echo; echo "## $name: $verdict in ${seconds}s"; echo; echo '```'; tail -n 40 "$work/$name.log"; echo '```'; } >> "$details"
    tail -n 8 "$work/$name.log"
    [ "$verdict" = ok ]
}

finish() {
    local status=$1
    [ "$status" = 0 ] && [ "$failed_steps" -gt 0 ] && status=1
    { echo; echo "timeouts of the steps run: ${timeouts_total}s"; cat "$details"; } >> "$summary"
    tar -czf "$out/$gpu_steps_name.tar.gz" -C "$work" . 2>/dev/null
    echo "$gpu_steps_name finished with status $status: $summary, $out/$gpu_steps_name.tar.gz"
    exit "$status"
}
