#!/usr/bin/env python3
"""Convert a `tmux capture-pane -e` dump (text with ANSI SGR colour codes) to a standalone
HTML page that headless Chromium can screenshot. Usage: ansi2html.py IN.ansi OUT.html [TITLE]"""
import html
import re
import sys

BASE16 = ["#1d1f21", "#cc6666", "#b5bd68", "#f0c674", "#81a2be", "#b294bb", "#8abeb7", "#c5c8c6",
          "#666666", "#ff7b7b", "#d7e37a", "#ffd787", "#a3c4e0", "#d3a9e0", "#a3e0d8", "#ffffff"]
FG, BG = "#d0d0d0", "#16181c"


def color256(n):
    if n < 16:
        return BASE16[n]
    if n < 232:
        n -= 16
        steps = [0, 95, 135, 175, 215, 255]
        return "#%02x%02x%02x" % (steps[n // 36], steps[(n // 6) % 6], steps[n % 6])
    v = 8 + (n - 232) * 10
    return "#%02x%02x%02x" % (v, v, v)


class State:
    def __init__(self):
        self.reset()

    def reset(self):
        self.fg = self.bg = None
        self.bold = self.dim = self.italic = self.underline = self.reverse = False

    def apply(self, params):
        codes = [int(p) if p else 0 for p in params.split(";")] if params else [0]
        i = 0
        while i < len(codes):
            c = codes[i]
            if c == 0:
                self.reset()
            elif c == 1:
                self.bold = True
            elif c == 2:
                self.dim = True
            elif c == 3:
                self.italic = True
            elif c == 4:
                self.underline = True
            elif c == 7:
                self.reverse = True
            elif c == 22:
                self.bold = self.dim = False
            elif c == 23:
                self.italic = False
            elif c == 24:
                self.underline = False
            elif c == 27:
                self.reverse = False
            elif 30 <= c <= 37:
                self.fg = BASE16[c - 30]
            elif 90 <= c <= 97:
                self.fg = BASE16[c - 90 + 8]
            elif 40 <= c <= 47:
                self.bg = BASE16[c - 40]
            elif 100 <= c <= 107:
                self.bg = BASE16[c - 100 + 8]
            elif c == 39:
                self.fg = None
            elif c == 49:
                self.bg = None
            elif c in (38, 48) and i + 1 < len(codes):
                if codes[i + 1] == 5 and i + 2 < len(codes):
                    col = color256(codes[i + 2])
                    i += 2
                elif codes[i + 1] == 2 and i + 4 < len(codes):
                    col = "#%02x%02x%02x" % tuple(codes[i + 2:i + 5])
                    i += 4
                else:
                    col = None
                if c == 38:
                    self.fg = col
                else:
                    self.bg = col
            i += 1

    def style(self):
        fg, bg = self.fg or FG, self.bg
        if self.reverse:
            fg, bg = (self.bg or BG), (self.fg or FG)
        css = ["color:" + fg]
        if bg:
            css.append("background:" + bg)
        if self.bold:
            css.append("font-weight:bold")
        if self.dim:
            css.append("opacity:0.7")
        if self.italic:
            css.append("font-style:italic")
        if self.underline:
            css.append("text-decoration:underline")
        return ";".join(css)


SGR = re.compile(r"\x1b\[([0-9;]*)m")
OTHER = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07")


def convert(text):
    st = State()
    out = []
    for line in text.rstrip("\n").split("\n"):
        pos = 0
        line = OTHER.sub(lambda m: m.group(0) if m.group(0).endswith("m") else "", line)
        for m in SGR.finditer(line):
            if m.start() > pos:
                out.append('<span style="%s">%s</span>' % (st.style(), html.escape(line[pos:m.start()])))
            st.apply(m.group(1))
            pos = m.end()
        if pos < len(line):
            out.append('<span style="%s">%s</span>' % (st.style(), html.escape(line[pos:])))
        out.append("\n")
    return "".join(out)


def main():
    src, dst = sys.argv[1], sys.argv[2]
    title = sys.argv[3] if len(sys.argv) > 3 else "nsm-tui"
    with open(src, encoding="utf-8", errors="replace") as f:
        body = convert(f.read())
    page = (
        "<!doctype html><meta charset='utf-8'><title>%s</title>"
        "<style>body{margin:0;background:%s}pre{margin:8px;font:14px/1.2 'DejaVu Sans Mono',monospace;color:%s}</style>"
        "<pre>%s</pre>" % (html.escape(title), BG, FG, body)
    )
    with open(dst, "w", encoding="utf-8") as f:
        f.write(page)


if __name__ == "__main__":
    main()
