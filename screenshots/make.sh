#!/bin/sh
# Re-create the console screenshots from a real session: run `nsm-tui demo` in tmux, drive it
# with keys, capture each scene with colours (tmux capture-pane -e), convert ANSI to HTML and
# render PNGs with headless Chromium. Needs tmux, python3 and chromium.
# Usage: screenshots/make.sh   (from anywhere; writes screenshots/*.png)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
bin=${NSM_TUI:-$root/target/debug/nsm-tui}
[ -x "$bin" ] || (cd "$root" && cargo build --quiet)
chrome=$(command -v chromium || command -v chromium-browser || command -v google-chrome)
work=$(mktemp -d)
session=nsm-tui-shots-$$
cols=120
rows=36
trap 'tmux kill-session -t $session 2>/dev/null || true; rm -rf "$work"' EXIT

# From the crate directory with a relative signatures path, so alert explanations on screen
# quote `signatures/…` rather than a machine path. The demo writes no files unless asked.
tmux new-session -d -s "$session" -x $cols -y $rows -c "$root" \
    "TERM=xterm-256color '$bin' demo --fast --signatures signatures; sleep 60"
wait_for() {
    i=0
    until tmux capture-pane -p -t "$session" | grep -qF "$1"; do
        i=$((i + 1)); [ $i -lt 300 ] || { echo "timed out waiting for: $1" >&2; exit 1; }
        sleep 0.1
    done
}
keys() { tmux send-keys -t "$session" "$@"; sleep 0.4; }
shot() {
    tmux capture-pane -e -p -t "$session" > "$work/$1.ansi"
    python3 "$here/ansi2html.py" "$work/$1.ansi" "$work/$1.html" "nsm-tui: $1"
    "$chrome" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
        --disable-background-networking --disable-component-update --disable-sync \
        --user-data-dir="$work/chrome" --hide-scrollbars --window-size=1040,630 \
        --screenshot="$here/$1.png" "file://$work/$1.html" >/dev/null 2>&1
    echo "wrote screenshots/$1.png"
}

wait_for "[FINISHED]"
# Packet table held on packet 135, where three signatures fire (the hex dump highlights them),
# then on the detail view of the same packet.
keys g; tmux send-keys -t "$session" -N 134 j; sleep 0.5
shot packets
keys Enter
shot detail
keys Escape
keys / 'alert' Enter
wait_for "filter: alert"
shot filter
keys Tab j Enter
wait_for "Incident #"
shot incident
keys b
wait_for "Block source address?"
shot confirm
keys Escape; keys Escape; keys Escape; keys ?
wait_for "Help"
shot help
keys Escape; keys o
wait_for "Attack types"
shot overview
keys q
