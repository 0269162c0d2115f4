#!/usr/bin/env python3
# extract-seeds.py - writes the rule and template texts the unit tests use
# (the first string argument of the named helpers) as fuzz seed files, so
# the fuzzers start from every construct and every error the tests pin.
#   fuzz/extract-seeds.py tests/unit/test_rules.c rules_from,assert_problems,problems_of fuzz/seeds/rules rules
#   fuzz/extract-seeds.py tests/unit/test_template.c template_from,assert_problems,problems_of fuzz/seeds/template tmpl
import re, sys, hashlib, os
src, funcs, outdir, ext = sys.argv[1], sys.argv[2].split(','), sys.argv[3], sys.argv[4]
s = open(src, encoding='utf-8').read()
lit = re.compile(r'\s*"((?:[^"\\]|\\.)*)"')
def unescape(t):
    out = bytearray(); i = 0; b = t.encode('utf-8')
    while i < len(b):
        c = b[i]
        if c == 0x5c:
            n = chr(b[i+1]); i += 2
            if n == 'n': out += b'\n'
            elif n == 'r': out += b'\r'
            elif n == 't': out += b'\t'
            elif n == 'x':
                m = re.match(rb'[0-9a-fA-F]+', b[i:]); out.append(int(m.group(0), 16) & 0xff); i += len(m.group(0))
            elif n in '01234567':
                m = re.match(rb'[0-7]{0,2}', b[i:]); out.append(int(n + m.group(0).decode(), 8)); i += len(m.group(0))
            else: out += n.encode()
        else: out.append(c); i += 1
    return bytes(out)
seen = set(); n = 0
for f in funcs:
    for m in re.finditer(re.escape(f) + r'\s*\(', s):
        pos = m.end(); parts = []
        while True:
            mm = lit.match(s, pos)
            if not mm: break
            parts.append(mm.group(1)); pos = mm.end()
        if not parts: continue
        data = b''.join(unescape(p) for p in parts)
        h = hashlib.sha1(data).hexdigest()
        if h in seen: continue
        seen.add(h); n += 1
        open(os.path.join(outdir, 'unit-%03d.%s' % (n, ext)), 'wb').write(data)
print(n)
