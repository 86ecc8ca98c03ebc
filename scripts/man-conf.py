#!/usr/bin/env python3
"""siogate.conf(5) from docs/configuration.md, so the two cannot drift.

Reads the Markdown subset that document uses (headings, paragraphs, "- "
lists with continuation lines, fenced blocks, `code`, **bold**, links,
pipe tables) and writes man(7) roff to stdout:

    scripts/man-conf.py docs/configuration.md VERSION > siogate.conf.5

The document's "# Configuration" title becomes NAME/SYNOPSIS; "##"
headings become .SH, "###" (one per key) .SS, "####" a bold paragraph.
"""
import re
import sys


def esc(text):
    """Roff-escapes plain text: backslashes, hyphens, leading dots."""
    text = text.replace('\\', '\\e').replace('-', '\\-')
    # groff reads the page as Latin-1: other characters by their code point
    return ''.join(c if ord(c) < 128 else '\\[u%04X]' % ord(c) for c in text)


def inline(text):
    """Markdown inline markup to roff fonts."""
    out = []
    pos = 0
    for m in re.finditer(r'`([^`]+)`|\*\*([^*]+)\*\*|\[([^\]]+)\]\(([^)]+)\)',
                         text):
        out.append(esc(text[pos:m.start()]))
        if m.group(1) is not None:
            out.append('\\fB' + esc(m.group(1)) + '\\fR')
        elif m.group(2) is not None:
            out.append('\\fB' + esc(m.group(2)) + '\\fR')
        else:
            label, href = m.group(3), m.group(4)
            out.append(inline(label))
            if not href.startswith('#'):
                out.append(' <' + esc(href) + '>')
        pos = m.end()
    out.append(esc(text[pos:]))
    return ''.join(out)


def line_out(text):
    """A roff text line: one that starts with . or ' is protected."""
    if text.startswith(('.', "'")):
        return '\\&' + text
    return text


def convert(md, version):
    lines = md.split('\n')
    out = ["'\\\" t",
           '.\\" Generated from docs/configuration.md by scripts/man-conf.py;'
           ' edit that file.',
           '.TH SIOGATE.CONF 5 "" "siogate %s" "File Formats"' % version,
           '.SH NAME',
           'siogate.conf \\- configuration of sio\\-gateway, sio\\-wsd'
           ' and sioctl',
           '.SH DESCRIPTION']
    i = 0
    para = []

    def flush():
        if para:
            out.append('.PP')
            out.extend(line_out(inline(p)) for p in para)
            para.clear()

    while i < len(lines):
        ln = lines[i]
        if ln.startswith('```'):
            flush()
            out.append('.PP')
            out.append('.nf')
            out.append('.RS 4')
            i += 1
            while i < len(lines) and not lines[i].startswith('```'):
                out.append(line_out(esc(lines[i])))
                i += 1
            out.append('.RE')
            out.append('.fi')
        elif ln.startswith('#### '):
            flush()
            out.append('.PP')
            out.append('\\fB' + inline(ln[5:]) + '\\fR')
        elif ln.startswith('### '):
            flush()
            out.append('.SS ' + inline(ln[4:]))
        elif ln.startswith('## '):
            flush()
            out.append('.SH ' + inline(ln[3:].upper()))
        elif ln.startswith('# '):
            flush()
        elif ln.startswith('- '):
            flush()
            item = [ln[2:]]
            while (i + 1 < len(lines) and lines[i + 1].startswith('  ')
                   and lines[i + 1].strip()):
                i += 1
                item.append(lines[i].strip())
            out.append('.IP \\(bu 2')
            out.extend(line_out(inline(p)) for p in item)
        elif ln.startswith('|'):
            flush()
            rows = []
            while i < len(lines) and lines[i].startswith('|'):
                cells = [c.strip() for c in lines[i].strip().strip('|')
                         .split('|')]
                if not all(re.fullmatch(r':?-+:?', c) for c in cells):
                    rows.append(cells)
                i += 1
            i -= 1
            # A table is a list of tagged paragraphs, its first column the
            # tag: the settings table is wider than any terminal.
            head = rows[0]
            for r in rows[1:]:
                out.append('.TP')
                out.append(line_out(inline(r[0])))
                first = True
                for h, c in zip(head[1:], r[1:]):
                    if not first:
                        out.append('.br')
                    first = False
                    out.append(line_out(inline(h + ': ' + c if h else c)))
        elif not ln.strip():
            flush()
        else:
            para.append(ln.strip())
        i += 1
    flush()
    out.append('.SH SEE ALSO')
    out.append('.BR sio\\-gateway (8),')
    out.append('.BR sio\\-wsd (8),')
    out.append('.BR sioctl (8)')
    return '\n'.join(out) + '\n'


def main():
    if len(sys.argv) != 3:
        sys.stderr.write('usage: man-conf.py CONFIGURATION.md VERSION\n')
        return 64
    with open(sys.argv[1], encoding='utf-8') as f:
        sys.stdout.write(convert(f.read(), sys.argv[2]))
    return 0


if __name__ == '__main__':
    sys.exit(main())
